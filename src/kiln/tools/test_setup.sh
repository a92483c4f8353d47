# kiln's test wrapper: runs one test inside its TestRunner action, as Bazel's test-setup.sh does.
#
#   /bin/sh external/kiln_tools/test_setup.sh --runfiles=R --executable=E --log=L --xml=X \
#       --outputs_zip=Z --label=LABEL --timeout=SECONDS --zip_python=PY [--tee] -- ARGS...
#
# A POSIX shell script rather than Python: a test's start-up is paid once per test, and /bin/sh
# starts in about a millisecond where an interpreter takes ten or more (kiln.cli.test_actions).
# Everything machine-specific - where the exec root is, the test's private temporary directory - is
# found here at run time, so the action's key holds relative paths only.
#
# It sets the test environment (TEST_SRCDIR, RUNFILES_DIR, TEST_TMPDIR, HOME, XML_OUTPUT_FILE,
# TEST_UNDECLARED_OUTPUTS_DIR, TEST_PREMATURE_EXIT_FILE; the rest comes from the action), runs the
# test from <runfiles>/_main with its output going to the log, stops it at the timeout (TERM, then
# KILL 5 s later, as Bazel's grace period does), writes a JUnit report if the test wrote none, and
# zips the undeclared outputs. Exit status: 0 passed, 1 failed, 124 timed out.

set -u
tee=""
zip_python=""
while [ $# -gt 0 ]; do
    case $1 in
        --runfiles=*) runfiles=${1#*=} ;;
        --executable=*) executable=${1#*=} ;;
        --log=*) log=${1#*=} ;;
        --xml=*) xml=${1#*=} ;;
        --outputs_zip=*) outputs_zip=${1#*=} ;;
        --label=*) label=${1#*=} ;;
        --timeout=*) timeout=${1#*=} ;;
        --zip_python=*) zip_python=${1#*=} ;;
        --tee) tee=1 ;;
        --) shift; break ;;
        *) echo "kiln test wrapper: unexpected argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
for name in runfiles executable log xml outputs_zip label timeout; do
    eval "[ -n \"\${$name+set}\" ]" || { echo "kiln test wrapper: missing --$name" >&2; exit 2; }
done

# (Functions that set variables instead of printing them: each $(...) costs a fork.)
for name in runfiles xml log outputs_zip; do
    eval "case \$$name in /*) ;; *) $name=\$PWD/\$$name ;; esac"
done
for f in "$log" "$xml" "$outputs_zip"; do
    [ -d "${f%/*}" ] || mkdir -p "${f%/*}"
done

# $found: the entries of the undeclared outputs directory but outputs.zip (globbed: no process started).
# With "clear", an earlier run's are removed first (an unsandboxed action reuses the directory).
leftovers() {
    found=""
    for f in "$undeclared"/* "$undeclared"/.[!.]* "$undeclared"/..?*; do
        if { [ -e "$f" ] || [ -L "$f" ]; } && [ "$f" != "$outputs_zip" ]; then found="$found
$f"; fi
    done
    if [ -n "$1" ] && [ -n "$found" ]; then
        (cd "$undeclared" && find . -mindepth 1 -maxdepth 1 ! -name outputs.zip -exec rm -rf {} +)
        found=""
    fi
}

# The action's TMPDIR is private to it and new (the sandbox's /tmp, or a directory of the action's own):
# the test's TEST_TMPDIR and HOME. Undeclared outputs go where Bazel puts them, beside outputs.zip,
# which holds them after the test (the files themselves are removed, as Bazel's zipping does).
test_tmp=${TMPDIR:-/tmp}
undeclared=${outputs_zip%/*}
leftovers clear
export TEST_SRCDIR="$runfiles" RUNFILES_DIR="$runfiles" TEST_TMPDIR="$test_tmp" TMPDIR="$test_tmp" \
    HOME="$test_tmp" XML_OUTPUT_FILE="$xml" TEST_UNDECLARED_OUTPUTS_DIR="$undeclared" \
    TEST_PREMATURE_EXIT_FILE="$test_tmp/premature_exit"

# $now: centiseconds since boot ("28945.36" -> 2894536), read without starting a process.
now() {
    if read -r up _ </proc/uptime 2>/dev/null; then now=${up%.*}${up#*.}; else now=0; fi
}

{
    printf 'exec ${PAGER:-/usr/bin/less} "$0" || exit 1\nExecuting tests from %s\n' "$label"
    echo "--------------------------------------------------------------------------------"
} >"$log"

now
start=$now
if [ -n "$tee" ]; then
    # The action's stdout is copied to the terminal as it comes (--test_output=streamed).
    { (cd "$runfiles/_main" && exec timeout -k 5 "$timeout" "$runfiles/$executable" "$@") </dev/null 2>&1
      echo $? >"$test_tmp/.kiln-test-status"; } | tee -a "$log"
    read -r code <"$test_tmp/.kiln-test-status"
else
    (cd "$runfiles/_main" && exec timeout -k 5 "$timeout" "$runfiles/$executable" "$@") </dev/null >>"$log" 2>&1
    code=$?
fi
now
elapsed=$(( now - start ))
seconds=$(( elapsed / 100 )).$(( elapsed % 100 / 10 ))$(( elapsed % 10 ))0

status=PASSED
if [ "$code" -ne 0 ]; then
    status=FAILED
    # timeout's statuses (124: stopped by TERM; 137: KILLed) mean a timeout only if the time was up.
    if { [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; } && [ "$elapsed" -ge $(( timeout * 100 )) ]; then
        status=TIMEOUT
        printf '\n-- Test timed out after %s seconds --\n' "$timeout" >>"$log"
    elif [ "$code" -eq 126 ] || [ "$code" -eq 127 ]; then
        echo "cannot start test: $runfiles/$executable" >>"$log"
    fi
fi

if [ ! -s "$xml" ]; then
    # The log's last 10,000 bytes as XML character data: control characters and broken UTF-8 out,
    # markup characters escaped.
    output=$(tail -c 10000 "$log" | iconv -c -f UTF-8 -t UTF-8 \
             | LC_ALL=C sed -e 's/[\x00-\x08\x0b\x0c\x0e-\x1f]//g' -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g')
    case $label in
        *[\&\<\>\"]*) name=$(printf '%s' "$label" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' \
                                                          -e 's/"/\&quot;/g') ;;
        *) name=$label ;;
    esac
    failures=0
    body=""
    if [ $status != PASSED ]; then
        failures=1
        body="<failure message=\"$status\" type=\"\">$output</failure>"
    fi
    # printf, not a here-document with cat: one process fewer per test.
    printf '%s\n' '<?xml version="1.0" encoding="UTF-8"?>' '<testsuites>' \
        "  <testsuite name=\"$name\" tests=\"1\" failures=\"$failures\" errors=\"0\" time=\"$seconds\">" \
        "    <testcase name=\"$name\" status=\"run\" duration=\"$seconds\" time=\"$seconds\">$body</testcase>" \
        "    <system-out>$output</system-out>" '  </testsuite>' '</testsuites>' >"$xml"
fi

# Bazel's test.outputs/outputs.zip: empty (the end-of-central-directory record alone) unless the test
# left files in TEST_UNDECLARED_OUTPUTS_DIR.
leftovers ""
if [ -z "$found" ]; then
    printf 'PK\005\006\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >"$outputs_zip"
elif [ -n "$zip_python" ]; then
    "$zip_python" -S -E "${0%/*}/outputs_zip.py" "$undeclared" "$outputs_zip" || exit 2
    leftovers clear
else
    echo "kiln test wrapper: no --zip_python to zip the undeclared outputs with" >&2
    exit 2
fi

case $status in
    PASSED) exit 0 ;;
    TIMEOUT) exit 124 ;;
    *) exit 1 ;;
esac
