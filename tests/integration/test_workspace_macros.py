"""WORKSPACE as written for Bazel 6-8, through the real `kiln` command.

The corpus workspaces under tests/compat/ build and test unchanged: workspace_rulesets declares the rule
sets with http_archive at pinned releases and calls their setup macros (no-ops offline: kiln has the rule
sets built in); workspace_user_macros declares its dependencies in its own .bzl macro (maybe(http_archive),
native.local_repository, native.existing_rule, a keyword-only parameter) and registers a Python toolchain
from a .bzl of the local repository it declared. Then each bad input's message, and several errors of one
file reported in one run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

from conftest import unavailable

from kiln.loading.module_files import read_module_files
from kiln.repos.definitions import default_definitions

COMPAT = Path(__file__).resolve().parents[1] / "compat"
CARGO_HOME = os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo")
RUSTUP_HOME = os.environ.get("RUSTUP_HOME") or os.path.expanduser("~/.rustup")
# The machine's rustup toolchains, whatever HOME the kiln process gets (conftest's `ws` gives it a fresh one).
RUST_ENV = {"CARGO_HOME": CARGO_HOME, "RUSTUP_HOME": RUSTUP_HOME,
            "PATH": os.environ.get("PATH", "") + os.pathsep + os.path.join(CARGO_HOME, "bin")}


def _corpus(ws, name: str) -> None:
    (ws.root / "MODULE.bazel").unlink()  # the corpus workspaces have none: WORKSPACE only
    shutil.copytree(COMPAT / name, ws.root, dirs_exist_ok=True)


def _machine_rustc() -> str:
    rustc = shutil.which("rustc", path=RUST_ENV["PATH"])
    if rustc is None:
        unavailable("no Rust toolchain (rustc) on this machine")
    done = subprocess.run([rustc, "-V"], capture_output=True, text=True, env={**os.environ, **RUST_ENV})
    if done.returncode != 0:
        unavailable(f"rustc does not run here: {done.stderr.strip()}")
    return done.stdout.split()[1]


def test_rule_sets_declared_with_http_archive_build_and_test_offline(ws):
    version = _machine_rustc()
    _corpus(ws, "workspace_rulesets")
    r = ws.kiln("test", "//...", env=RUST_ENV, timeout=600)
    assert r.code == 0, r.output
    assert "//app:words_test" in r.output and "//hello:numbers_test" in r.output
    assert "Executed 2 out of 2 tests: 2 tests pass." in r.output
    # The rule sets' archives are never fetched: kiln has them built in.
    assert "Fetching" not in r.output
    assert not (ws.output_base / "external" / "rules_rust").exists()
    # rust_register_toolchains(versions = ["1.78.0"]) cannot be honoured: said once, naming both versions.
    warnings = [line for line in r.stderr.splitlines() if "rust_register_toolchains" in line]
    assert len(warnings) == 1, r.stderr
    assert warnings[0].startswith('WARNING: WORKSPACE:56:1: rust_register_toolchains(versions = ["1.78.0"]): '
                                  f"kiln builds with this machine's rustc {version} (")
    assert warnings[0].endswith("), not Rust 1.78.0 as written")


def test_a_users_workspace_macros_declare_repositories_and_register_toolchains(ws):
    if not os.path.exists("/usr/bin/python3"):
        unavailable("the corpus' toolchain names /usr/bin/python3, which this machine lacks")
    _corpus(ws, "workspace_user_macros")
    r = ws.kiln("test", "//app:all")
    assert r.code == 0, r.output
    assert "Executed 1 out of 1 test: 1 test passes." in r.output
    # zlib is declared but no build needs it: never fetched.
    assert not (ws.output_base / "external" / "zlib").exists()
    # What the macros declared, each where its call is written.
    info = read_module_files(ws.root, default_definitions(), enable_bzlmod=False)
    zlib = info.repos["zlib"]
    assert (zlib.kind, str(zlib.location)) == ("http_archive", "third_party/deps.bzl:21:5")
    assert zlib.usage.tags[0].attrs["urls"] == ["https://github.com/madler/zlib/releases/download/v1.3.1/"
                                                "zlib-1.3.1.tar.gz"]  # maybe() kept the first declaration
    tools = info.repos["my_tools"]
    assert (tools.kind, str(tools.location)) == ("local_repository", "third_party/deps.bzl:34:9")
    assert [(t.pattern, str(t.location)) for t in info.toolchains] == [
        ("@my_tools//:python_toolchain", "@my_tools//toolchains.bzl:4:5")]


# ---- bad input ------------------------------------------------------------------------------------

def _errors(ws, workspace: str, files: dict[str, str] | None = None) -> list[str]:
    (ws.root / "MODULE.bazel").unlink()
    ws.write("WORKSPACE", workspace)
    ws.write("BUILD.bazel", "")
    for path, text in (files or {}).items():
        ws.write(path, text)
    r = ws.kiln("build", "//...")
    assert r.code == 1, r.output
    assert "Traceback" not in r.output
    return [line for line in r.stderr.splitlines() if line.startswith("ERROR: ")]


RULES_RUST = '''
load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

http_archive(
    name = "rules_rust",
    integrity = "sha256-3QBrdyIdWeTRQSB8DnrfEbH7YNFEC4/KA7+SVheTKmA=",
    urls = ["https://github.com/bazelbuild/rules_rust/releases/download/0.49.3/rules_rust-v0.49.3.tar.gz"],
)
'''


def test_a_setup_macro_kiln_does_not_know_is_named_with_its_rule_set_and_version(ws):
    errors = _errors(ws, RULES_RUST + '''
load("@rules_rust//rust:repositories.bzl", "rules_rust_dependencies", "rust_register_toolchains_v2")
''')
    assert errors == [
        "ERROR: WORKSPACE:9:1: kiln does not know 'rust_register_toolchains_v2' of "
        "'@rules_rust//rust:repositories.bzl' (rules_rust 0.49.3, declared at WORKSPACE:3:1); that file "
        "defines: rules_rust_dependencies, rust_register_toolchains, rust_repositories"]


def test_a_rule_set_file_kiln_does_not_provide_is_named(ws):
    errors = _errors(ws, RULES_RUST + '''
load("@rules_rust//bindgen:repositories.bzl", "rust_bindgen_dependencies")
''')
    assert len(errors) == 1
    assert errors[0].startswith(
        "ERROR: WORKSPACE:9:1: kiln does not provide '@rules_rust//bindgen:repositories.bzl' for WORKSPACE files "
        "(rules_rust 0.49.3, declared at WORKSPACE:3:1): of @rules_rust it provides ")
    assert "//rust:repositories.bzl" in errors[0] and "//crate_universe:defs.bzl" in errors[0]


def test_a_syntax_error_in_a_workspace_macro_file_is_located(ws):
    errors = _errors(ws, 'load("//third_party:deps.bzl", "my_deps")\n\nmy_deps()\n', {
        "third_party/BUILD.bazel": "",
        "third_party/deps.bzl": '''
            def my_deps():
                native.register_toolchains("//toolchains:all")

            def other_deps(:
                pass
            ''',
    })
    assert len(errors) == 1
    assert errors[0].startswith("ERROR: third_party/deps.bzl:4:16: syntax error: unexpected symbol ':' here")


def test_a_workspace_macro_file_is_held_to_bazels_bzl_dialect(ws):
    # Keyword-only parameters are fine (rules_rust's macros use them); a load after a statement is not.
    errors = _errors(ws, 'load("//third_party:deps.bzl", "my_deps")\n\nmy_deps(name = "x")\n', {
        "third_party/BUILD.bazel": "",
        "third_party/deps.bzl": '''
            def my_deps(*, name):
                native.register_toolchains("//toolchains:all")

            load("//third_party:other.bzl", "other")
            ''',
        "third_party/other.bzl": "other = 1\n",
    })
    assert errors == ["ERROR: third_party/deps.bzl:4:1: load statements must appear before any other statement"]


def test_a_symbol_a_macro_file_does_not_define_lists_those_it_does(ws):
    errors = _errors(ws, 'load("//third_party:deps.bzl", "my_deps", "their_deps")\n', {
        "third_party/BUILD.bazel": "",
        "third_party/deps.bzl": '''
            DEFAULT_VERSION = "1.0"

            def my_deps():
                pass

            def _private():
                pass
            ''',
    })
    assert errors == ["ERROR: WORKSPACE:1:43: third_party/deps.bzl does not define 'their_deps'; it defines: "
                      "DEFAULT_VERSION, my_deps"]


def test_a_load_from_an_undeclared_repository_says_where_to_declare_it(ws):
    errors = _errors(ws, 'workspace(name = "w")\n\nload("@my_rules//:deps.bzl", "my_deps")\n')
    assert errors == [
        "ERROR: WORKSPACE:3:1: cannot load '@my_rules//:deps.bzl': no repository '@my_rules' is declared: "
        'declare it in WORKSPACE before this load (http_archive(name = "my_rules", ...) or local_repository), '
        'or with bazel_dep(name = "my_rules", ...) in MODULE.bazel']


def _targz(entries: dict[str, str]) -> bytes:
    import gzip
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in entries.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


# A macro repository as teams publish theirs: its deps.bzl declares a library repository with maybe(), at the
# URL and digest its own private .bzl pins.
MY_RULES_DEPS = '''
    load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")
    load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
    load("//private:versions.bzl", "GREETING_SHA256", "GREETING_URL")

    def my_rules_dependencies(*, greeting_url = GREETING_URL):
        maybe(
            http_archive,
            name = "greeting",
            urls = [greeting_url],
            sha256 = GREETING_SHA256,
            strip_prefix = "greeting-1.0",
        )
    '''
GREETING = _targz({
    "greeting-1.0/BUILD.bazel": '''
        py_library(name = "greeting", srcs = ["greeting.py"], imports = ["."], visibility = ["//visibility:public"])
        ''',
    "greeting-1.0/greeting.py": "WORD = 'hello from an archive a fetched macro declared'\n",
})


def test_a_load_from_a_declared_archive_fetches_it_while_workspace_is_read(ws):
    from archive_server import ArchiveServer, Route

    with ArchiveServer() as server:
        greeting = server.add("/greeting-1.0.tar.gz", Route(GREETING))
        rules = _targz({
            "my_rules-1.0/BUILD.bazel": "",
            "my_rules-1.0/deps.bzl": MY_RULES_DEPS,
            "my_rules-1.0/private/BUILD.bazel": "",
            "my_rules-1.0/private/versions.bzl": f'GREETING_URL = "{greeting}"\n'
                                                 f'GREETING_SHA256 = "{hashlib.sha256(GREETING).hexdigest()}"\n',
        })
        route = Route(rules)
        url = server.add("/my_rules-1.0.tar.gz", route)
        (ws.root / "MODULE.bazel").unlink()
        ws.write(".bazelrc", f"common --repository_cache={ws.root.parent / 'repository_cache'}\n")
        ws.write("WORKSPACE", f'''
            load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

            http_archive(
                name = "my_rules",
                urls = ["{url}"],
                sha256 = "{hashlib.sha256(rules).hexdigest()}",
                strip_prefix = "my_rules-1.0",
            )

            load("@my_rules//:deps.bzl", "my_rules_dependencies")

            my_rules_dependencies()
            ''')
        ws.write("app/BUILD.bazel", '''
            py_binary(name = "app", srcs = ["app.py"], deps = ["@greeting"])
            ''')
        ws.write("app/app.py", "from greeting import WORD\nprint(WORD)\n")
        r = ws.kiln("run", "//app")
        assert r.code == 0, r.output
        assert r.stdout.strip() == "hello from an archive a fetched macro declared"
        assert "INFO: Fetching @my_rules (http_archive)" in r.stderr
        assert "INFO: Fetching @greeting (http_archive)" in r.stderr
        # Read again by a later command, the fetched macro repository is current: not fetched again.
        ws.write("app/app.py", "from greeting import WORD\nprint(WORD.upper())\n")
        r = ws.kiln("run", "//app")
        assert r.code == 0, r.output
        assert r.stdout.strip() == "HELLO FROM AN ARCHIVE A FETCHED MACRO DECLARED"
        assert "Fetching" not in r.stderr
        assert route.requests == 1


def test_a_load_from_an_archive_that_cannot_be_fetched_names_it(ws):
    errors = _errors(ws, '''
load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

http_archive(name = "my_rules", urls = ["http://127.0.0.1:9/my_rules.tar.gz"], sha256 = "{}")

load("@my_rules//:deps.bzl", "my_deps")
'''.format("0" * 64))
    assert errors == ['ERROR: WORKSPACE:3:1: http_archive(name = "my_rules"): could not download my_rules.tar.gz:']
    r = ws.kiln("build", "//...")
    assert "\n  http://127.0.0.1:9/my_rules.tar.gz: connection refused" in r.stderr, r.stderr


def test_a_repository_rule_written_in_a_macro_file_is_refused_at_its_call(ws):
    errors = _errors(ws, 'load("//:deps.bzl", "my_repo")\n\nmy_repo(name = "x")\n', {"deps.bzl": '''
        def _impl(rctx):
            rctx.file("BUILD.bazel", "")

        my_repo = repository_rule(implementation = _impl, attrs = {"v": attr.string()})
        '''})
    assert errors == ["ERROR: WORKSPACE:3:1: kiln does not support repository rules written with repository_rule() "
                      "yet"]


def test_every_bad_call_of_a_workspace_and_its_macros_is_reported_in_one_run(ws):
    errors = _errors(ws, '''
load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
load("//:deps.bzl", "my_deps")

http_archive(name = "a")
http_archive(name = "b", urls = ["https://example.com/b.tar.gz"], sha256 = 3)
my_deps()
register_toolchains("@nowhere//:all")
http_archive(name = "c", url = "https://example.com/c.tar.gz", strip_prefx = "c")
''', {"deps.bzl": '''
        load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

        def my_deps():
            http_archive(name = "d", urlz = ["https://example.com/d.tar.gz"])
            native.local_repository(name = "e")
        '''})
    assert errors == [
        'ERROR: WORKSPACE:4:1: http_archive(name = "a"): give url or urls',
        "ERROR: WORKSPACE:5:1: http_archive(name = \"b\"): attribute 'sha256' must be a string, got int",
        "ERROR: deps.bzl:4:5: http_archive(name = \"d\"): unknown attribute 'urlz' (did you mean 'url'?)",
        "ERROR: deps.bzl:5:5: local_repository(name = \"e\"): missing mandatory attribute 'path'",
        "ERROR: WORKSPACE:8:1: http_archive(name = \"c\"): unknown attribute 'strip_prefx' "
        "(did you mean 'strip_prefix'?)",
        "ERROR: WORKSPACE:7:1: register_toolchains(\"@nowhere//:all\"): no repository '@nowhere' is visible from "
        "WORKSPACE",
    ]


def test_evaluation_stops_where_starlark_must_and_keeps_what_came_before(ws):
    errors = _errors(ws, '''
load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

http_archive(name = "a")
VERSIONS = {"b": "1.0"}
http_archive(name = "b", url = "https://example.com/b-%s.tar.gz" % VERSIONS["c"])
http_archive(name = "d")
''')
    assert errors == ['ERROR: WORKSPACE:3:1: http_archive(name = "a"): give url or urls',
                      'ERROR: WORKSPACE:5:68: Key `"c"` was not found']


def test_every_bad_tag_and_call_of_module_bazel_is_reported_in_one_run(ws):
    ws.write("MODULE.bazel", textwrap.dedent('''
        module(name = "m")

        bazel_dep(name = "rules_rust", version = "0.57.0")

        crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
        crate.spec(package = "serde", version = "1", featurs = ["derive"])
        crate.spec(packag = "anyhow", version = "1")
        register_toolchains("//a:b:c")
        bazel_dep(name = "rules_rust", version = "0.57.0")
        '''))
    ws.write("BUILD.bazel", "")
    r = ws.kiln("build", "//...")
    assert r.code == 1, r.output
    assert [line for line in r.stderr.splitlines() if line.startswith("ERROR: ")] == [
        "ERROR: MODULE.bazel:6:7: crate.spec(): unknown attribute 'featurs' (did you mean 'features'?)",
        "ERROR: MODULE.bazel:7:7: crate.spec(): missing mandatory attribute 'package'",
        "ERROR: MODULE.bazel:8:1: register_toolchains(\"//a:b:c\"): invalid target pattern '//a:b:c': target "
        "names may not contain ':'",
        "ERROR: MODULE.bazel:9:1: bazel_dep(name = \"rules_rust\"): the repository name 'rules_rust' is already "
        "used by another bazel_dep",
    ]
