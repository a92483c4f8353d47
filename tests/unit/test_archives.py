"""Extraction of archives: every type, strip_prefix/add_prefix, and the archives it must refuse."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import zstandard

from kiln.repos.archives import ArchiveError, archive_type, extract

FILES = {"pkg-1.0/BUILD.bazel": b"# build\n", "pkg-1.0/src/lib.py": b"X = 1\n", "pkg-1.0/bin/tool": b"#!/bin/sh\n"}


def _tar_bytes(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tar.addfile(e)
            else:
                name, data = e
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o755 if name.endswith("tool") else 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _compress(raw: bytes, kind: str) -> bytes:
    import bz2
    import gzip
    import lzma
    return {"tar": lambda b: b, "tar.gz": gzip.compress, "tgz": gzip.compress, "tar.xz": lzma.compress,
            "tar.bz2": bz2.compress, "tar.zst": zstandard.ZstdCompressor().compress}[kind](raw)


def _zip_bytes(files: dict[str, bytes], symlinks: dict[str, str] = {}) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((0o755 if name.endswith("tool") else 0o644) | stat.S_IFREG) << 16
            zf.writestr(info, data)
        for name, target in symlinks.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o777 | stat.S_IFLNK) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def _tree(root: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = Path(dirpath, n)
            rel = p.relative_to(root).as_posix()
            out[rel] = ("-> " + os.readlink(p)) if p.is_symlink() else p.read_bytes()
    return out


@pytest.mark.parametrize("kind", ["tar", "tar.gz", "tgz", "tar.xz", "tar.bz2", "tar.zst"])
def test_each_tar_type_extracts_with_strip_and_add_prefix(tmp_path: Path, kind: str) -> None:
    archive = tmp_path / f"pkg.{kind}"
    archive.write_bytes(_compress(_tar_bytes(list(FILES.items())), kind))
    extract(archive, tmp_path / "out", strip_prefix="pkg-1.0", add_prefix="third_party/pkg")
    assert _tree(tmp_path / "out") == {
        "third_party/pkg/BUILD.bazel": b"# build\n", "third_party/pkg/src/lib.py": b"X = 1\n",
        "third_party/pkg/bin/tool": b"#!/bin/sh\n"}
    assert os.access(tmp_path / "out/third_party/pkg/bin/tool", os.X_OK)
    assert not os.access(tmp_path / "out/third_party/pkg/src/lib.py", os.X_OK)


def test_zip_keeps_executable_bits_and_symlinks(tmp_path: Path) -> None:
    archive = tmp_path / "pkg.zip"
    archive.write_bytes(_zip_bytes(FILES, {"pkg-1.0/lib_link.py": "src/lib.py"}))
    extract(archive, tmp_path / "out", strip_prefix="pkg-1.0/")
    assert _tree(tmp_path / "out") == {"BUILD.bazel": b"# build\n", "src/lib.py": b"X = 1\n",
                                       "bin/tool": b"#!/bin/sh\n", "lib_link.py": "-> src/lib.py"}
    assert (tmp_path / "out/lib_link.py").read_bytes() == b"X = 1\n"
    assert os.access(tmp_path / "out/bin/tool", os.X_OK)


def test_files_keep_the_modification_times_a_tar_records(tmp_path: Path) -> None:
    # Shipped bytecode is valid only while its source keeps the mtime the .pyc records.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, mtime in (("pkg/mod.py", b"X = 1\n", 1_600_000_000), ("pkg/tool", b"#!/bin/sh\n", 1_500_000_123)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o755
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "pkg.tar.gz").write_bytes(buf.getvalue())
    extract(tmp_path / "pkg.tar.gz", tmp_path / "out", strip_prefix="pkg")
    assert os.stat(tmp_path / "out/mod.py").st_mtime == 1_600_000_000
    assert os.stat(tmp_path / "out/tool").st_mtime == 1_500_000_123


def test_files_keep_the_modification_times_a_zip_records(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("pkg/mod.py", date_time=(2001, 9, 9, 1, 46, 40)), b"X = 1\n")
    (tmp_path / "pkg.zip").write_bytes(buf.getvalue())
    extract(tmp_path / "pkg.zip", tmp_path / "out")
    # Zip stores local time without a zone: read as local time, as `unzip` does.
    assert time.localtime(os.stat(tmp_path / "out/pkg/mod.py").st_mtime)[:6] == (2001, 9, 9, 1, 46, 40)


def test_explicit_type_overrides_the_file_name(tmp_path: Path) -> None:
    archive = tmp_path / "download"
    archive.write_bytes(_compress(_tar_bytes([("a.txt", b"a")]), "tar.gz"))
    extract(archive, tmp_path / "out", type="tar.gz")
    assert (tmp_path / "out/a.txt").read_bytes() == b"a"


def test_archive_type_from_file_names() -> None:
    assert archive_type("x-1.0.tar.gz") == "tar.gz"
    assert archive_type("X.TGZ") == "tgz"
    assert archive_type("a.tar.zst") == "tar.zst"
    assert archive_type("a.jar") == "jar"
    assert archive_type("a.tar") == "tar"
    assert archive_type("a.gz") is None


def test_unknown_type_names_the_known_ones(tmp_path: Path) -> None:
    archive = tmp_path / "file.rar"
    archive.write_bytes(b"x")
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out")
    assert e.value.render() == (
        "cannot extract file.rar: the file name file.rar is not an archive type kiln knows "
        "(one of zip, jar, war, aar, tar, tar.gz, tgz, tar.xz, txz, tar.bz2, tbz, tar.zst, tzst)")


def test_hard_link_is_copied_from_the_file_it_names(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    archive.write_bytes(_tar_bytes([("p/a.txt", b"aa"), _link("p/b.txt", "p/a.txt", tarfile.LNKTYPE)]))
    extract(archive, tmp_path / "out", strip_prefix="p")
    assert _tree(tmp_path / "out") == {"a.txt": b"aa", "b.txt": b"aa"}


def test_strip_prefix_not_in_the_archive_lists_top_level_entries(tmp_path: Path) -> None:
    archive = tmp_path / "pkg.tar.gz"
    archive.write_bytes(_compress(_tar_bytes([*FILES.items(), ("README", b"r"), ("docs/x", b"x")]), "tar.gz"))
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out", strip_prefix="pkg-2.0")
    assert e.value.render() == (
        "strip_prefix 'pkg-2.0' is not in pkg.tar.gz; its top-level entries are: README, docs, pkg-1.0")


def test_entry_escaping_with_dot_dot_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_compress(_tar_bytes([("ok.txt", b"ok"), ("../escape", b"owned")]), "tar.gz"))
    dest = tmp_path / "sub" / "out"
    with pytest.raises(ArchiveError) as e:
        extract(archive, dest)
    assert e.value.render() == (
        "evil.tar.gz: entry '../escape' would be written outside the directory it is extracted to (refused)")
    assert not (tmp_path / "sub" / "escape").exists()


def test_absolute_entry_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip_bytes({"/tmp/kiln-test-absolute": b"owned"}))
    with pytest.raises(ArchiveError, match="entry '/tmp/kiln-test-absolute' would be written outside"):
        extract(archive, tmp_path / "out")
    assert not Path("/tmp/kiln-test-absolute").exists()


def test_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    archive.write_bytes(_tar_bytes([_link("pkg/etc", "../../../etc")]))
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out")
    assert e.value.render() == ("evil.tar: entry 'pkg/etc' is a symlink to '../../../etc', which points "
                                "outside the directory it is extracted to (refused)")
    assert not os.path.lexists(tmp_path / "out/pkg/etc")


def test_absolute_symlink_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip_bytes({}, {"passwd": "/etc/passwd"}))
    with pytest.raises(ArchiveError, match="entry 'passwd' is a symlink to '/etc/passwd', which points outside"):
        extract(archive, tmp_path / "out")


def test_symlink_escaping_after_strip_prefix_is_refused(tmp_path: Path) -> None:
    # Inside the archive `p/up` points at `other/`, but `other/` is not extracted.
    archive = tmp_path / "a.tar"
    archive.write_bytes(_tar_bytes([("p/x", b"x"), ("other/y", b"y"), _link("p/up", "../other")]))
    with pytest.raises(ArchiveError, match="entry 'p/up' is a symlink to '../other', which points outside"):
        extract(archive, tmp_path / "out", strip_prefix="p")


def test_chain_of_links_escaping_is_refused_and_removed(tmp_path: Path) -> None:
    # `x` looks inside on its own (`l/../outside`), but `l` becomes a link to `.`,
    # so `x` really resolves to the parent of the destination.
    archive = tmp_path / "chain.tar"
    archive.write_bytes(_tar_bytes([_link("x", "l/../outside"), _link("l", ".")]))
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError) as e:
        extract(archive, dest)
    assert e.value.render() == (f"chain.tar: entry 'x' is a symlink that resolves to {tmp_path}/outside, "
                                "outside the directory it is extracted to, through other links (refused)")
    assert not os.path.lexists(dest / "x")


def test_file_written_through_a_symlink_entry_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "through.tar"
    archive.write_bytes(_tar_bytes([_link("d", "sub"), ("d/f", b"f")]))
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out")
    assert e.value.render() == ("through.tar: entry 'd' is not a directory, but the archive also has entries "
                                "under it (kiln does not write through links)")


def test_hard_link_outside_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "hl.tar"
    archive.write_bytes(_tar_bytes([("p/a", b"a"), _link("p/b", "../../etc/passwd", tarfile.LNKTYPE)]))
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out", strip_prefix="p")
    assert e.value.render() == ("hl.tar: entry 'p/b' is a hard link to '../../etc/passwd', outside the "
                                "directory it is extracted to (refused)")


def test_device_entry_is_refused(tmp_path: Path) -> None:
    info = tarfile.TarInfo("dev/null")
    info.type = tarfile.CHRTYPE
    archive = tmp_path / "dev.tar"
    archive.write_bytes(_tar_bytes([info]))
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out")
    assert e.value.render() == ("dev.tar: entry 'dev/null' is a device or fifo; "
                                "kiln extracts files, directories and links only")


@pytest.mark.parametrize("kind", ["tar.gz", "tar.xz", "tar.bz2", "tar.zst", "tar"])
@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_archive_is_a_clear_error(tmp_path: Path, kind: str, keep: float) -> None:
    payload = os.urandom(200_000)
    full = _compress(_tar_bytes([("p/a.bin", payload), ("p/b.bin", payload)]), kind)
    archive = tmp_path / f"p.{kind}"
    archive.write_bytes(full[:int(len(full) * keep)])
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out")
    assert e.value.render().startswith(f"p.{kind} is truncated or corrupt (")


def test_gzip_missing_only_its_trailer_is_truncated(tmp_path: Path) -> None:
    full = _compress(_tar_bytes([("p/a.txt", b"a" * 1000)]), "tar.gz")
    archive = tmp_path / "p.tar.gz"
    archive.write_bytes(full[:-4])
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out")
    assert e.value.render() == ("p.tar.gz is truncated or corrupt (Compressed file ended before the "
                                "end-of-stream marker was reached)")


def test_truncated_zip_is_a_clear_error(tmp_path: Path) -> None:
    full = _zip_bytes(FILES)
    archive = tmp_path / "p.zip"
    archive.write_bytes(full[: len(full) // 2])
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out")
    assert e.value.render() == "p.zip is truncated or corrupt (File is not a zip file)"


def test_not_an_archive_at_all(tmp_path: Path) -> None:
    archive = tmp_path / "page.tar.gz"
    archive.write_bytes(b"<html>Not Found</html>")
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out")
    assert e.value.render() == "page.tar.gz is truncated or corrupt (Not a gzipped file (b'<h'))"


def test_add_prefix_must_stay_inside(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    archive.write_bytes(_tar_bytes([("a", b"a")]))
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out", add_prefix="../x")
    assert e.value.render() == "add_prefix '../x' must be a path inside the repository"


def test_a_later_entry_of_the_same_path_wins(tmp_path: Path) -> None:
    archive = tmp_path / "dup.tar"
    archive.write_bytes(_tar_bytes([("a", b"first"), ("a", b"second"), _link("b", "a"), ("b", b"file b"),
                                    ("c", b"file c"), _link("c", "a")]))
    extract(archive, tmp_path / "out")
    assert _tree(tmp_path / "out") == {"a": b"second", "b": b"file b", "c": "-> a"}


def test_a_path_that_is_both_file_and_directory(tmp_path: Path) -> None:
    archive = tmp_path / "both.tar"
    archive.write_bytes(_tar_bytes([("p/a", b"file"), ("p/a/b", b"under it")]))
    with pytest.raises(ArchiveError) as e:
        extract(archive, tmp_path / "out")
    assert e.value.render() == "both.tar: 'p/a' is both a file and a directory in the archive"
