"""The Linux sandbox: what an action or a test can see, write and reach, and the strategies around it.

Each escape a build tool must stop is tried by a real genrule or py_test and
must fail the action, as it would on a remote worker.
"""

from __future__ import annotations

import os
import zipfile
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import processes_running


@pytest.fixture(scope="module", autouse=True)
def need_bwrap():
    if shutil.which("bwrap") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("bubblewrap is required under CI (scripts/system_deps.sh installs it)")
        pytest.skip("bubblewrap (bwrap) is not installed on this machine")


def _genrule(name: str, cmd: str, *, srcs=(), tags=()) -> str:
    return (f"genrule(name = {name!r}, srcs = {list(srcs)!r}, outs = [{name + '.out'!r}], "
            f"cmd = {cmd!r}, tags = {list(tags)!r})\n")


def _build(ws, *targets_and_flags):
    return ws.kiln("build", *targets_and_flags)


def test_undeclared_workspace_file_by_absolute_path_is_not_there(ws):
    ws.write("secret.txt", "secret\n")
    ws.write("p/BUILD.bazel", _genrule("abs", f"cat {ws.root}/secret.txt > $@"))
    r = _build(ws, "//p:abs")
    assert r.code == 1, r.output
    assert f"{ws.root}/secret.txt: No such file or directory" in r.output
    assert "Executing genrule //p:abs failed" in r.output


def test_reading_above_the_exec_root_finds_nothing(ws):
    ws.write("secret.txt", "secret\n")
    ws.write("p/BUILD.bazel", _genrule("rel", "cat ../secret.txt ../../secret.txt ../../../secret.txt > $@"))
    r = _build(ws, "//p:rel")
    assert r.code == 1, r.output
    assert "../secret.txt: No such file or directory" in r.output


def test_home_directory_is_hidden(ws):
    home = Path(os.path.expanduser("~"))
    with tempfile.NamedTemporaryFile("w", dir=home, prefix=".kiln-sandbox-test-", delete=True) as f:
        f.write("private\n")
        f.flush()
        ws.write("p/BUILD.bazel", _genrule("home", f"cat {f.name} > $@"))
        r = _build(ws, "//p:home")
    assert r.code == 1, r.output
    assert f"{f.name}: No such file or directory" in r.output


def test_output_base_and_store_are_hidden(ws):
    ws.write("p/BUILD.bazel", _genrule("first", "echo first > $@")
             + _genrule("store", f"ls {ws.output_base}/cas > $@"))
    assert _build(ws, "//p:first").code == 0
    assert any((ws.output_base / "cas").iterdir())
    r = _build(ws, "//p:store")
    assert r.code == 1, r.output
    assert f"{ws.output_base}/cas" in r.output and "No such file or directory" in r.output


def test_writing_into_the_source_tree_fails_and_changes_nothing(ws):
    src = ws.write("p/data.txt", "original\n")
    ws.write("p/BUILD.bazel", _genrule("w", f"echo pwned >> {src}; echo x > $@")
             + _genrule("w2", "echo pwned >> $<; echo x > $@", srcs=["data.txt"]))
    r = _build(ws, "//p:w")
    assert r.code == 1, r.output
    r = _build(ws, "//p:w2")
    assert r.code == 1, r.output
    assert "Read-only file system" in r.output
    assert src.read_text() == "original\n"


def test_host_tmp_is_not_reachable(ws, tmp_path):
    target = tmp_path / "escaped.txt"
    ws.write("p/BUILD.bazel", _genrule("t", f"echo out > {target}; echo x > $@"))
    r = _build(ws, "//p:t")
    assert r.code == 1, r.output
    assert not target.exists()


def test_declared_generated_input_in_a_writable_directory_stays_read_only(ws):
    # b's output directory is also where a.out lives: the directory is writable, a.out is not.
    ws.write("p/BUILD.bazel", _genrule("a", "echo a > $@")
             + _genrule("b", "echo changed > $(location :a); cat $(location :a) > $@", srcs=[":a"]))
    r = _build(ws, "//p:b")
    assert r.code == 1, r.output
    assert "Read-only file system" in r.output
    assert (ws.root / "kiln-bin/p/a.out").read_text() == "a\n"
    # The other direction works: reading the declared input.
    ws.write("p/BUILD.bazel", _genrule("a", "echo a > $@")
             + _genrule("b", "cat $(location :a) > $@", srcs=[":a"]))
    r = _build(ws, "//p:b")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/p/b.out").read_text() == "a\n"


def test_background_processes_end_with_the_action(ws, tmp_path):
    late = tmp_path / "late"
    late.mkdir()
    marker = f"30.{os.getpid()}"
    ws.write("p/BUILD.bazel", _genrule("bg", f"(sleep 1; touch {late}/touched; sleep {marker}) & echo done > $@"))
    start = time.monotonic()
    r = _build(ws, "//p:bg", f"--sandbox_writable_path={late}")
    assert r.code == 0, r.output
    assert time.monotonic() - start < 20  # the background sleep does not stall the build
    time.sleep(2)
    assert not (late / "touched").exists()
    assert processes_running(marker) == []


@pytest.fixture
def server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def serve():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                conn.sendall(b"hello\n")
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    sock.close()


def _connect_cmd(port: int) -> str:
    return (f"python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', {port}), timeout=5); "
            "print(s.recv(6).decode().strip())\" > $@")


def test_network_is_allowed_by_default_and_blocked_by_tag(ws, server):
    ws.write("p/BUILD.bazel", _genrule("open", _connect_cmd(server))
             + _genrule("closed", _connect_cmd(server), tags=["block-network"]))
    r = _build(ws, "//p:open")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/p/open.out").read_text() == "hello\n"
    r = _build(ws, "//p:closed")
    assert r.code == 1, r.output
    assert "Connection refused" in r.output  # its own network namespace: nothing listens there


def test_nosandbox_default_allow_network(ws, server):
    ws.write("p/BUILD.bazel", _genrule("plain", _connect_cmd(server))
             + _genrule("needs", _connect_cmd(server), tags=["requires-network"]))
    r = _build(ws, "//p:plain", "--nosandbox_default_allow_network")
    assert r.code == 1, r.output
    r = _build(ws, "//p:needs", "--nosandbox_default_allow_network")
    assert r.code == 0, r.output


TEST_PY = """
import os, sys
from pathlib import Path

data = Path("p/data.txt")
try:
    with open(data, "a") as f:
        f.write("changed by the test\\n")
    sys.exit("wrote into a runfile")
except OSError as e:
    print("runfile:", e.strerror)
Path(os.environ["TEST_TMPDIR"], "t").write_text("tmp")
Path(os.environ["TEST_UNDECLARED_OUTPUTS_DIR"], "report.txt").write_text("undeclared\\n")
Path("/dev/shm/kiln-test").write_text("shm")
Path(os.environ["XML_OUTPUT_FILE"]).write_text("<testsuites/>\\n")
print("shm:", sorted(os.listdir("/dev/shm")))
print("data:", data.read_text().strip())
"""


def test_a_test_can_write_only_its_own_places(ws):
    ws.write("p/data.txt", "original\n")
    ws.write("p/t.py", TEST_PY)
    ws.write("p/BUILD.bazel", 'py_test(name = "t", srcs = ["t.py"], data = ["data.txt"])\n')
    r = ws.kiln("test", "//p:t", "--test_output=all")
    assert r.code == 0, r.output
    assert "runfile: Read-only file system" in r.output
    assert "shm: ['kiln-test']" in r.output
    assert "data: original" in r.output
    logs = ws.root / "kiln-testlogs/p/t"
    # Undeclared outputs are zipped, as Bazel's --zip_undeclared_test_outputs does by default.
    with zipfile.ZipFile(logs / "test.outputs/outputs.zip") as z:
        assert z.namelist() == ["report.txt"]
        assert z.read("report.txt") == b"undeclared\n"
    assert [p.name for p in (logs / "test.outputs").iterdir()] == ["outputs.zip"]
    assert (logs / "test.xml").read_text() == "<testsuites/>\n"
    assert (ws.root / "p/data.txt").read_text() == "original\n"
    assert not Path("/dev/shm/kiln-test").exists()


def test_local_strategy_runs_without_isolation(ws):
    ws.write("secret.txt", "visible\n")
    ws.write("p/BUILD.bazel", _genrule("abs", f"cat {ws.root}/secret.txt > $@"))
    r = _build(ws, "//p:abs", "--spawn_strategy=local")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/p/abs.out").read_text() == "visible\n"


def test_no_sandbox_tag_runs_unconfined(ws):
    ws.write("secret.txt", "visible\n")
    ws.write("p/BUILD.bazel", _genrule("abs", f"cat {ws.root}/secret.txt > $@", tags=["no-sandbox"]))
    r = _build(ws, "//p:abs")
    assert r.code == 0, r.output


def test_fallback_list_takes_the_first_strategy_that_works(ws):
    ws.write("p/BUILD.bazel", _genrule("abs", f"cat {ws.root}/MODULE.bazel > $@"))
    r = _build(ws, "//p:abs", "--spawn_strategy=linux-sandbox,local")
    assert r.code == 1, r.output  # linux-sandbox works here, so the file stays hidden


def test_unknown_strategy_is_a_command_line_error(ws):
    ws.write("p/BUILD.bazel", _genrule("a", "echo a > $@"))
    r = _build(ws, "//p:a", "--spawn_strategy=sandboxd")
    assert r.code == 2, r.output
    assert "'sandboxd' is not a spawn strategy kiln knows" in r.output
    assert "linux-sandbox, processwrapper-sandbox, sandboxed, local, standalone" in r.output
    assert "Traceback" not in r.output


def _broken_bwrap_path(tmp_path: Path) -> str:
    """A PATH whose bwrap cannot create namespaces, as on a machine that forbids them."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    fake = bin_dir / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: Operation not permitted' >&2\nexit 1\n")
    fake.chmod(0o755)
    return f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"


def test_without_namespaces_kiln_falls_back_with_one_warning(ws, tmp_path):
    ws.write("p/BUILD.bazel", _genrule("a", "echo a > $@") + _genrule("b", "echo b > $@"))
    r = ws.kiln("build", "//p:all", env={"PATH": _broken_bwrap_path(tmp_path)})
    assert r.code == 0, r.output
    assert r.output.count("WARNING: the Linux sandbox cannot be used") == 1
    assert "Operation not permitted" in r.output
    assert "reading files outside their inputs" in r.output
    assert (ws.root / "kiln-bin/p/b.out").read_text() == "b\n"


def test_linux_sandbox_alone_without_namespaces_fails_clearly(ws, tmp_path):
    ws.write("p/BUILD.bazel", _genrule("a", "echo a > $@"))
    r = ws.kiln("build", "//p:a", "--spawn_strategy=linux-sandbox", env={"PATH": _broken_bwrap_path(tmp_path)})
    assert r.code == 1, r.output
    assert "no strategy of --spawn_strategy=linux-sandbox can run here" in r.output
    assert "Operation not permitted" in r.output
    assert "Traceback" not in r.output


def test_hermetic_sandbox_hides_what_is_not_mounted(ws):
    ws.write("p/in.txt", "declared\n")
    ws.write("p/BUILD.bazel", _genrule("h", "cat $< > $@; ls /etc >> $@", srcs=["in.txt"])
             + _genrule("ok", "cat $< > $@", srcs=["in.txt"]))
    mounts = [f"--sandbox_add_mount_pair={d}" for d in ("/bin", "/usr", "/lib", "/lib64") if os.path.isdir(d)]
    r = _build(ws, "//p:h", "--experimental_use_hermetic_linux_sandbox", *mounts)
    assert r.code == 1, r.output
    assert "/etc" in r.output and "No such file or directory" in r.output
    r = _build(ws, "//p:ok", "--experimental_use_hermetic_linux_sandbox", *mounts)
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/p/ok.out").read_text() == "declared\n"


def test_a_test_runs_in_the_hermetic_sandbox_given_the_shell_and_coreutils(ws):
    """The test wrapper is a shell script: the hermetic sandbox runs tests once /bin/sh and coreutils are
    mounted, and says what is missing otherwise."""
    ws.write("p/t.py", "import sys\nprint('hermetic', sys.version_info[0])\n")
    ws.write("p/BUILD.bazel", 'py_test(name = "t", srcs = ["t.py"])\n')
    mounts = [f"--sandbox_add_mount_pair={d}" for d in ("/bin", "/usr", "/lib", "/lib64") if os.path.isdir(d)]
    r = ws.kiln("test", "//p:t", "--experimental_use_hermetic_linux_sandbox", "--test_output=all", *mounts)
    assert r.code == 0, r.output
    assert "hermetic 3" in r.output
    r = ws.kiln("test", "//p:t", "--experimental_use_hermetic_linux_sandbox", "--nocache_test_results")
    assert r.code == 3, r.output
    assert "execvp /bin/sh: No such file or directory" in r.output


def test_mount_pair_and_tmpfs_path(ws, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "tool.txt").write_text("from the host\n")
    ws.write("p/BUILD.bazel", _genrule(
        "m", "cat /kiln-extra/tool.txt > $@; echo s > /scratch/s; ls /scratch >> $@; "
             "echo no >> /kiln-extra/tool.txt || echo read-only >> $@"))
    r = _build(ws, "//p:m", f"--sandbox_add_mount_pair={extra}:/kiln-extra", "--sandbox_tmpfs_path=/scratch")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/p/m.out").read_text() == "from the host\ns\nread-only\n"
    assert (extra / "tool.txt").read_text() == "from the host\n"


def test_relative_mount_pair_is_rejected(ws):
    ws.write("p/BUILD.bazel", _genrule("a", "echo a > $@"))
    r = _build(ws, "//p:a", "--sandbox_add_mount_pair=relative/dir")
    assert r.code == 2, r.output
    assert "--sandbox_add_mount_pair=relative/dir: paths must be absolute" in r.output


def test_sandbox_debug_keeps_the_exec_root(ws):
    ws.write("p/in.txt", "x\n")
    ws.write("p/BUILD.bazel", _genrule("a", "cat $< > $@", srcs=["in.txt"]))
    r = _build(ws, "//p:a", "--sandbox_debug")
    assert r.code == 0, r.output
    kept = list((ws.output_base / "sandbox").glob("*/execroot/_main/p/in.txt"))
    assert len(kept) == 1


def test_only_the_tool_directories_of_a_home_are_mounted(ws):
    # kiln's interpreter (e.g. under ~/.pyenv) is mounted back read-only; nothing else of the home is there.
    from kiln.repos.local_runtime import host_runtime_dirs

    home = os.path.expanduser("~")
    expected = sorted({d[len(home) + 1:].split("/")[0] for d in host_runtime_dirs() if d.startswith(home + "/")})
    ws.write("p/BUILD.bazel", _genrule("h", f"ls -A {home} > $@ 2>&1 || echo absent > $@"))
    r = _build(ws, "//p:h")
    assert r.code == 0, r.output
    listing = (ws.root / "kiln-bin/p/h.out").read_text().split()
    assert listing == (expected or ["absent"])
    assert sorted(os.listdir(home)) != listing  # the real home holds more than that
