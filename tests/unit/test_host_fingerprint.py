"""Host tool fingerprints: a digest of a tree's files, each file hashed only when its stat is new."""

from __future__ import annotations

import hashlib
import json
import os

from kiln.repos.host_fingerprint import fingerprint, table_path, tree_digest


def make_tree(root):
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "rustlib").mkdir(parents=True)
    (root / "bin" / "rustc").write_bytes(b"rustc binary")
    (root / "bin" / "rustc").chmod(0o755)
    (root / "lib" / "libstd.rlib").write_bytes(b"std v1")
    (root / "lib" / "rustlib" / "components").write_text("rustc\nrust-std\n")
    return [str(root / "bin"), str(root / "lib")]


def test_an_unchanged_tree_is_answered_from_the_table_without_rewriting_it(tmp_path):
    roots = make_tree(tmp_path / "sysroot")
    table = table_path(tmp_path / "cache", roots)
    first = tree_digest(roots, table)
    entries = json.loads(table.read_text())
    std = str(tmp_path / "sysroot" / "lib" / "libstd.rlib")
    assert entries[std][4] == hashlib.sha256(b"std v1").hexdigest()
    assert sorted(entries) == sorted([std, str(tmp_path / "sysroot" / "bin" / "rustc"),
                                      str(tmp_path / "sysroot" / "lib" / "rustlib" / "components")])
    saved = table.stat()

    again = tree_digest(roots, table)
    assert again == first
    assert (table.stat().st_mtime_ns, table.stat().st_ino) == (saved.st_mtime_ns, saved.st_ino)

    # The proof that the table answered: a digest planted for an unchanged stat is taken as is.
    entries[std][4] = "0" * 64
    table.write_text(json.dumps(entries))
    assert tree_digest(roots, table).digest != first.digest


def test_a_replaced_file_is_rehashed_alone_and_changes_the_digest(tmp_path):
    roots = make_tree(tmp_path / "sysroot")
    table = table_path(tmp_path / "cache", roots)
    first = tree_digest(roots, table)
    before = json.loads(table.read_text())
    std = tmp_path / "sysroot" / "lib" / "libstd.rlib"
    std.write_bytes(b"std v2")  # same size, same path
    changed = tree_digest(roots, table)
    after = json.loads(table.read_text())
    assert changed.digest != first.digest
    assert after[str(std)][4] == hashlib.sha256(b"std v2").hexdigest()
    assert {p: e for p, e in after.items() if p != str(std)} == {p: e for p, e in before.items() if p != str(std)}


def test_added_removed_linked_and_executable_files_count(tmp_path):
    roots = make_tree(tmp_path / "sysroot")
    table = table_path(tmp_path / "cache", roots)
    digests = [tree_digest(roots, table).digest]
    extra = tmp_path / "sysroot" / "lib" / "libextra.rlib"
    extra.write_bytes(b"x")
    digests.append(tree_digest(roots, table).digest)
    os.symlink("libextra.rlib", tmp_path / "sysroot" / "lib" / "libalias.rlib")
    digests.append(tree_digest(roots, table).digest)
    os.symlink("libstd.rlib", tmp_path / "sysroot" / "lib" / "libalias2.rlib")
    os.unlink(tmp_path / "sysroot" / "lib" / "libalias.rlib")
    digests.append(tree_digest(roots, table).digest)
    extra.chmod(0o755)
    digests.append(tree_digest(roots, table).digest)
    extra.unlink()
    os.unlink(tmp_path / "sysroot" / "lib" / "libalias2.rlib")
    digests.append(tree_digest(roots, table).digest)
    assert len(set(digests[:5])) == 5
    assert digests[5] == digests[0]  # back to the first tree, back to its digest
    assert str(extra) not in json.loads(table.read_text())  # the table holds the last walk's files only


def test_paths_name_every_file_and_directory_walked(tmp_path):
    roots = make_tree(tmp_path / "sysroot")
    tree = tree_digest(roots, table_path(tmp_path / "cache", roots))
    s = str(tmp_path / "sysroot")
    assert tree.paths == (f"{s}/bin", f"{s}/bin/rustc", f"{s}/lib", f"{s}/lib/libstd.rlib",
                          f"{s}/lib/rustlib", f"{s}/lib/rustlib/components")


def test_a_damaged_table_means_hashing_again(tmp_path):
    roots = make_tree(tmp_path / "sysroot")
    table = table_path(tmp_path / "cache", roots)
    first = tree_digest(roots, table)
    table.write_text("{not json")
    assert tree_digest(roots, table) == first
    assert len(json.loads(table.read_text())) == 3


def test_the_fingerprint_is_the_version_output_and_the_files(tmp_path):
    roots = make_tree(tmp_path / "sysroot")
    tree = tree_digest(roots, table_path(tmp_path / "cache", roots))
    a = fingerprint(["rustc 1.95.0\nhost: x", "cargo 1.95.0"], tree)
    assert a == fingerprint(["rustc 1.95.0\nhost: x", "cargo 1.95.0"], tree)
    assert a != fingerprint(["rustc 1.95.1\nhost: x", "cargo 1.95.0"], tree)
    (tmp_path / "sysroot" / "bin" / "rustc").write_bytes(b"rustc binary, rebuilt")
    assert a != fingerprint(["rustc 1.95.0\nhost: x", "cargo 1.95.0"],
                            tree_digest(roots, table_path(tmp_path / "cache", roots)))
