"""kiln's python-build-standalone table and the archive a version, platform, libc and threading pick."""

from __future__ import annotations

import re

import pytest

from kiln.core.errors import KilnError
from kiln.repos.python_tool_versions import DEFAULT_RELEASE_BASE_URL, MINOR_MAPPING, PLATFORMS, TOOL_VERSIONS
from kiln.repos.python_versions import archive_for, resolve_version

LINUX = "x86_64-unknown-linux-gnu"


def test_table_is_consistent() -> None:
    assert set(MINOR_MAPPING.values()) <= set(TOOL_VERSIONS)
    for version, entry in TOOL_VERSIONS.items():
        for key, sha256 in entry["sha256"].items():
            assert re.fullmatch(r"[0-9a-f]{64}", sha256), (version, key)
            assert key.removesuffix("-freethreaded") in PLATFORMS, (version, key)


def test_minor_version_resolves_through_the_minor_mapping() -> None:
    archive = archive_for("3.11", LINUX)
    assert archive.version == MINOR_MAPPING["3.11"] == "3.11.14"
    assert archive.urls == (f"{DEFAULT_RELEASE_BASE_URL}/20251031/"
                            "cpython-3.11.14+20251031-x86_64-unknown-linux-gnu-install_only.tar.gz",)
    assert archive.sha256 == "60f0bd473d861cc45d3401d9914e47ccb9fa037f88a91879ed517a62042b8477"
    assert archive.strip_prefix == "python"
    assert archive.filename == "cpython-3.11.14+20251031-x86_64-unknown-linux-gnu-install_only.tar.gz"
    assert archive.platform == LINUX


def test_full_version_is_taken_as_it_is() -> None:
    archive = archive_for("3.12.1", LINUX)
    assert archive.version == "3.12.1"
    assert archive.urls == (f"{DEFAULT_RELEASE_BASE_URL}/20240107/"
                            "cpython-3.12.1+20240107-x86_64-unknown-linux-gnu-install_only.tar.gz",)
    assert archive.sha256 == "74e330b8212ca22fd4d9a2003b9eec14892155566738febc8e5e572f267b9472"


def test_musl_picks_the_musl_triple() -> None:
    archive = archive_for("3.12", LINUX, libc="musl")
    assert archive.platform == "x86_64-unknown-linux-musl"
    assert archive.sha256 == "0a461330b9b89f2ea3088dde10d7a3f96aa65897b7c5ce2404fa3b5c4b8daa14"
    assert archive.filename == "cpython-3.12.12+20251031-x86_64-unknown-linux-musl-install_only.tar.gz"


def test_freethreaded_picks_the_full_archive_unpacked_from_python_install() -> None:
    archive = archive_for("3.13", LINUX, freethreaded=True)
    assert archive.platform == "x86_64-unknown-linux-gnu-freethreaded"
    assert archive.sha256 == "33f89c957d986d525529b8a980103735776f4d20cf52f55960a057c760188ac3"
    assert archive.filename == "cpython-3.13.11+20251209-x86_64-unknown-linux-gnu-freethreaded+pgo+lto-full.tar.zst"
    assert archive.strip_prefix == "python/install"


def test_freethreaded_aarch64_linux_names_depend_on_the_release() -> None:
    old = archive_for("3.13.0", "aarch64-unknown-linux-gnu", freethreaded=True)
    new = archive_for("3.13.11", "aarch64-unknown-linux-gnu", freethreaded=True)
    assert old.filename.endswith("-aarch64-unknown-linux-gnu-freethreaded+lto-full.tar.zst")
    assert new.filename.endswith("-aarch64-unknown-linux-gnu-freethreaded+pgo+lto-full.tar.zst")


def test_windows_archives_before_20250317_are_the_shared_ones() -> None:
    assert archive_for("3.11.7", "x86_64-pc-windows-msvc").filename.endswith("-shared-install_only.tar.gz")
    assert archive_for("3.11.14", "x86_64-pc-windows-msvc").filename.endswith("-msvc-install_only.tar.gz")


def test_base_urls_replace_the_default_release_host_in_order() -> None:
    archive = archive_for("3.11", LINUX, base_urls=["http://mirror.one/pbs/", "http://mirror.two"])
    name = "20251031/cpython-3.11.14+20251031-x86_64-unknown-linux-gnu-install_only.tar.gz"
    assert archive.urls == (f"http://mirror.one/pbs/{name}", f"http://mirror.two/{name}")


def test_overridden_table_and_mapping_are_used_and_absolute_urls_kept() -> None:
    tool_versions = {"3.11.7": {
        "url": ["20000101/cpython-{python_version}+20000101-{platform}-{build}.tar.gz",
                "https://example.invalid/python.tar.gz"],
        "sha256": {LINUX: "ab" * 32},
        "strip_prefix": "python",
    }}
    archive = archive_for("3.11", LINUX, base_urls=["http://127.0.0.1:8000"], tool_versions=tool_versions,
                          minor_mapping={"3.11": "3.11.7"})
    assert archive.version == "3.11.7"
    assert archive.urls == (
        "http://127.0.0.1:8000/20000101/cpython-3.11.7+20000101-x86_64-unknown-linux-gnu-install_only.tar.gz",
        "https://example.invalid/python.tar.gz")
    assert archive.sha256 == "ab" * 32


@pytest.mark.parametrize("version", ["3.7", "3.11.99"])
def test_unknown_version_lists_the_known_ones(version: str) -> None:
    with pytest.raises(KilnError) as info:
        resolve_version(version)
    message = info.value.message
    assert message.startswith(f"Python {version} is not in kiln's python-build-standalone table")
    known = message.split("known versions: ")[1].split(", ")
    assert known[:7] == ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
    assert known.index("3.9.25") < known.index("3.10.2") < known.index("3.10.11") < known.index("3.15.0a2")
    assert len(known) == len(MINOR_MAPPING) + len(TOOL_VERSIONS)


def test_freethreaded_before_313_names_the_platforms_the_table_has() -> None:
    with pytest.raises(KilnError) as info:
        archive_for("3.12", LINUX, freethreaded=True)
    assert info.value.message.startswith(
        "kiln's python-build-standalone table has no Python 3.12.12 archive for "
        "x86_64-unknown-linux-gnu-freethreaded; it has one for: aarch64-apple-darwin, ")


def test_musl_where_no_musl_build_exists() -> None:
    with pytest.raises(KilnError) as info:
        archive_for("3.12", "aarch64-unknown-linux-gnu", libc="musl")
    assert info.value.message == ("python-build-standalone has no musl build for aarch64 linux; "
                                  "its musl platforms: x86_64-unknown-linux-musl")


def test_unknown_libc_and_platform() -> None:
    with pytest.raises(KilnError, match=r"^unknown Linux libc 'uclibc' \(py_linux_libc takes glibc or musl\)$"):
        archive_for("3.12", LINUX, libc="uclibc")
    with pytest.raises(KilnError, match=r"^unknown python-build-standalone platform 'sparc-sun-solaris'; known: "):
        archive_for("3.12", "sparc-sun-solaris")
