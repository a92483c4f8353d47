"""Repository rules through the real command: archives served on 127.0.0.1, local directories, a local git repo."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tarfile

import pytest

from archive_server import ArchiveServer, Route


def targz(entries: dict[str, bytes], *, mode: int = 0o644) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


LIB = targz({"lib-1.0/greet.py": b"WORD = 'hello from lib'\n", "lib-1.0/README": b"lib\n"})

APP = {
    "app/BUILD.bazel": 'py_binary(name = "app", srcs = ["app.py"], deps = ["@lib//:greet"])\n',
    "app/app.py": "from greet import WORD\nprint(WORD)\n",
}

LIB_BUILD = 'py_library(name = "greet", srcs = ["greet.py"], imports = ["."], visibility = ["//visibility:public"])'


@pytest.fixture
def server():
    with ArchiveServer() as s:
        yield s


@pytest.fixture
def rws(ws, tmp_path):
    """A workspace whose downloads go to a repository cache of the test's own."""
    cache = tmp_path / "repository_cache"
    ws.write(".bazelrc", f"build --repository_cache={cache}\nquery --repository_cache={cache}\n")
    ws.cache = cache
    for path, text in APP.items():
        ws.write(path, text)
    return ws


def _workspace_http_archive(ws, url: str, digest: str, **extra: str) -> None:
    attrs = {"strip_prefix": '"lib-1.0"', "build_file_content": repr(LIB_BUILD), **extra}
    lines = "".join(f"    {k} = {v},\n" for k, v in attrs.items())
    ws.write("WORKSPACE", f'''load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

http_archive(
    name = "lib",
    urls = ["{url}"],
    sha256 = "{digest}",
{lines})
''')


def test_http_archive_is_fetched_once_and_built_from(rws, server):
    route = Route(LIB)
    url = server.add("/lib-1.0.tar.gz", route)
    _workspace_http_archive(rws, url, sha256(LIB))
    r = rws.kiln("run", "//app")
    assert r.code == 0, r.output
    assert "hello from lib" in r.stdout
    assert "INFO: Fetching @lib (http_archive)" in r.stderr
    assert route.requests == 1
    # A new command (a change elsewhere re-analyses) does not fetch again: the marker is current.
    rws.write("app/app.py", "from greet import WORD\nprint(WORD.upper())\n")
    r = rws.kiln("run", "//app")
    assert r.code == 0, r.output
    assert "HELLO FROM LIB" in r.stdout and "Fetching" not in r.stderr
    assert route.requests == 1
    # A changed definition fetches again — from the repository cache, as the checksum is the same.
    _workspace_http_archive(rws, url, sha256(LIB), add_prefix='"sub"')
    rws.write("app/BUILD.bazel", 'py_binary(name = "app", srcs = ["app.py"], deps = ["@lib//:greet"])\n')
    r = rws.kiln("build", "//app")
    assert "INFO: Fetching @lib (http_archive)" in r.stderr
    assert route.requests == 1
    assert (rws.output_base / "external" / "lib" / "sub" / "greet.py").is_file()


def test_sha256_mismatch_names_both_hashes_and_caches_nothing(rws, server):
    url = server.add("/lib-1.0.tar.gz", Route(LIB))
    wrong = "0" * 64
    _workspace_http_archive(rws, url, wrong)
    r = rws.kiln("build", "//app")
    assert r.code == 1, r.output
    assert "ERROR: WORKSPACE:3:1: http_archive(name = \"lib\"): " in r.stderr
    assert wrong in r.stderr and sha256(LIB) in r.stderr
    assert not list(rws.cache.glob("content_addressable/*/*"))
    assert "Traceback" not in r.output


def test_every_url_unreachable_lists_each(rws, server):
    first, second = server.url("/missing.tar.gz"), "http://127.0.0.1:9/lib.tar.gz"
    rws.write("WORKSPACE", f'''load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
http_archive(name = "lib", urls = ["{first}", "{second}"], sha256 = "{sha256(LIB)}")
''')
    r = rws.kiln("build", "//app")
    assert r.code == 1, r.output
    assert first in r.stderr and second in r.stderr and "404" in r.stderr
    assert "Traceback" not in r.output


def test_archive_problems_are_reported_at_the_rule(rws, server):
    escaping = targz({"lib-1.0/ok.py": b"", "../escape": b"x"})
    url = server.add("/bad.tar.gz", Route(escaping))
    _workspace_http_archive(rws, url, sha256(escaping))
    r = rws.kiln("build", "//app")
    assert r.code == 1, r.output
    assert ("entry '../escape' would be written outside the directory it is extracted to (refused)") in r.stderr
    assert not (rws.output_base / "external" / "escape").exists()
    url = server.add("/noprefix.tar.gz", Route(LIB))
    _workspace_http_archive(rws, url, sha256(LIB), strip_prefix='"lib-2.0"')
    r = rws.kiln("build", "//app")
    assert r.code == 1, r.output
    assert "lib-2.0" in r.stderr and "lib-1.0" in r.stderr  # the top-level entries are listed
    truncated = LIB[: len(LIB) // 2]
    url = server.add("/truncated.tar.gz", Route(truncated))
    _workspace_http_archive(rws, url, sha256(truncated))
    r = rws.kiln("build", "//app")
    assert r.code == 1, r.output
    assert "ERROR: WORKSPACE:3:1: http_archive(name = \"lib\"): " in r.stderr
    assert "truncated.tar.gz" in r.stderr and "is truncated or corrupt" in r.stderr


def test_use_repo_rule_with_a_patch_and_a_patch_that_does_not_apply(rws, server):
    url = server.add("/lib-1.0.tar.gz", Route(LIB))
    rws.write("third_party/BUILD.bazel", "")
    rws.write("third_party/lib.BUILD", LIB_BUILD + "\n")
    rws.write("third_party/word.patch", "--- greet.py\n+++ greet.py\n@@ -1 +1 @@\n-WORD = 'hello from lib'\n"
                                        "+WORD = 'patched'\n")
    rws.write("MODULE.bazel", f'''http_archive = use_repo_rule("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

http_archive(
    name = "lib",
    urls = ["{url}"],
    sha256 = "{sha256(LIB)}",
    strip_prefix = "lib-1.0",
    build_file = "//third_party:lib.BUILD",
    patches = ["//third_party:word.patch"],
)
''')
    r = rws.kiln("run", "//app")
    assert r.code == 0, r.output
    assert "patched" in r.stdout
    # Editing the patch fetches the repository again (the marker records the files the fetch read).
    rws.write("third_party/word.patch", "--- greet.py\n+++ greet.py\n@@ -1 +1 @@\n-WORD = 'not in the file'\n"
                                        "+WORD = 'x'\n")
    r = rws.kiln("build", "//app")
    assert r.code == 1, r.output
    assert ("ERROR: MODULE.bazel:3:1: http_archive(name = \"lib\"): patch //third_party:word.patch does not "
            "apply: ") in r.stderr
    assert "greet.py" in r.stderr
    assert "Traceback" not in r.output


def test_local_repositories_and_override(rws, tmp_path):
    local = tmp_path / "elsewhere"
    (local / "greet.py").parent.mkdir(parents=True)
    (local / "greet.py").write_text("WORD = 'local'\n")
    (local / "BUILD.bazel").write_text(LIB_BUILD + "\n")
    rws.write("WORKSPACE", f'local_repository(name = "lib", path = "{local}")\n')
    r = rws.kiln("run", "//app")
    assert r.code == 0, r.output
    assert "local" in r.stdout
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "greet.py").write_text("WORD = 'new_local'\n")
    rws.write("WORKSPACE", f'new_local_repository(name = "lib", path = "{bare}", build_file_content = {LIB_BUILD!r})\n')
    r = rws.kiln("run", "//app")
    assert r.code == 0, r.output
    assert "new_local" in r.stdout
    r = rws.kiln("run", "//app", f"--override_repository=lib={local}")
    assert r.code == 0, r.output
    assert "local\n" in r.stdout
    r = rws.kiln("build", "//app", f"--override_repository=lib={tmp_path / 'nowhere'}")
    assert r.code == 2, r.output
    assert f"--override_repository=lib={tmp_path / 'nowhere'}: " in r.stderr and "is not a directory" in r.stderr
    rws.write("WORKSPACE", f'local_repository(name = "lib", path = "{tmp_path / "absent"}")\n')
    r = rws.kiln("build", "//app")
    assert r.code == 1, r.output
    assert f"ERROR: WORKSPACE:1:1: local_repository(name = \"lib\"): path '{tmp_path / 'absent'}' is not a " \
           "directory" in r.stderr


def test_git_repository_from_the_local_disk(rws, tmp_path):
    repo = tmp_path / "gitlib"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "greet.py").write_text("WORD = 'from git v1'\n")
    (repo / "BUILD.bazel").write_text(LIB_BUILD + "\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    subprocess.run([*git, "tag", "v1"], check=True)
    (repo / "greet.py").write_text("WORD = 'from git v2'\n")
    subprocess.run([*git, "commit", "-qam", "v2"], check=True)
    rws.write("WORKSPACE", f'''load("@bazel_tools//tools/build_defs/repo:git.bzl", "git_repository")
git_repository(name = "lib", remote = "{repo}", tag = "v1")
''')
    r = rws.kiln("run", "//app")
    assert r.code == 0, r.output
    assert "from git v1" in r.stdout
    assert not (rws.output_base / "external" / "lib" / ".git").exists()


def test_http_file_maybe_and_fetch_command(rws, server):
    tool = b"#!/bin/sh\necho tool ran\n"
    url = server.add("/tool.sh", Route(tool))
    rws.write("WORKSPACE", f'''load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_file")
load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")
maybe(http_file, name = "tool", urls = ["{url}"], sha256 = "{sha256(tool)}", executable = True)
maybe(http_file, name = "tool", urls = ["http://127.0.0.1:9/never"], sha256 = "{sha256(tool)}")
load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
http_archive(name = "rules_python", urls = ["http://127.0.0.1:9/never.tar.gz"], sha256 = "{"0" * 64}")
''')
    rws.write("g/BUILD.bazel", 'genrule(name = "g", outs = ["g.txt"], tools = ["@tool//file"], '
                               'cmd = "$(execpath @tool//file) > $@")\n')
    r = rws.kiln("fetch", "//g:all")
    assert r.code == 0, r.output
    assert "INFO: All external dependencies fetched successfully (1 repositories: @tool)." in r.stderr
    assert (rws.output_base / "external" / "tool" / "file" / "tool.sh").is_file()
    r = rws.kiln("build", "//g")
    assert r.code == 0, r.output
    assert (rws.root / "kiln-bin/g/g.txt").read_text() == "tool ran\n"
    # clean keeps fetched repositories; --expunge removes them with the output base.
    assert rws.kiln("clean").code == 0
    assert (rws.output_base / "external" / "tool").is_dir()
    assert rws.kiln("clean", "--expunge").code == 0
    assert not (rws.output_base / "external").exists()
