"""Choosing a pinned version's wheel for a target runtime among the files whose sha256 the lock allows."""

from __future__ import annotations

from kiln.core.errors import Location
from kiln.repos.pip_index import IndexFile
from kiln.repos.pip_lock import Pin
from kiln.repos.pip_target import TargetRuntime
from kiln.repos.wheel_select import NoWheel, WheelChoice, select_wheel

CP311_GLIBC_2_31 = TargetRuntime("cpython", (3, 11, 7), (3, 11, 7), "", "cpython-311-x86_64-linux-gnu", "linux",
                                 "x86_64", "linux-x86_64", ("glibc", "2.31"))


def digest(filename: str) -> str:
    import hashlib

    return hashlib.sha256(filename.encode()).hexdigest()


def file(filename: str, *, sha256: str | None = None, requires_python: str = "", yanked: str | None = None):
    return IndexFile(filename, f"https://files.example/{filename}", digest(filename) if sha256 is None else sha256,
                     requires_python, yanked)


def pin(*filenames: str, name: str = "demo", version: str = "1.0") -> Pin:
    return Pin(name, version, (), "", tuple(digest(f) for f in filenames), Location("req.txt", 3))


def test_the_most_specific_allowed_wheel_wins():
    names = ["demo-1.0-py3-none-any.whl", "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
             "demo-1.0-cp38-abi3-manylinux_2_17_x86_64.whl", "demo-1.0.tar.gz"]
    chosen = select_wheel([file(n) for n in names], pin(*names), CP311_GLIBC_2_31)
    assert chosen == WheelChoice(file(names[1]), "cp311-cp311-manylinux_2_17_x86_64")


def test_files_whose_hash_the_lock_does_not_allow_are_never_chosen():
    allowed = "demo-1.0-py3-none-any.whl"
    better = "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    chosen = select_wheel([file(better), file(allowed)], pin(allowed), CP311_GLIBC_2_31)
    assert chosen == WheelChoice(file(allowed), "py3-none-any")


def test_a_file_the_index_gives_no_hash_for_stays_a_candidate():
    unhashed = file("demo-1.0-py3-none-any.whl", sha256="")
    assert select_wheel([unhashed], pin("other"), CP311_GLIBC_2_31) == WheelChoice(unhashed, "py3-none-any")


def test_other_versions_and_projects_and_requires_python_are_skipped():
    names = ["demo-1.1-py3-none-any.whl", "other-1.0-py3-none-any.whl", "demo-1.0-cp312-cp312-linux_x86_64.whl",
             "demo-1.0-py2.py3-none-any.whl"]
    files = [file(n) for n in names[:3]] + [file(names[3], requires_python=">=3.12")]
    result = select_wheel(files, pin(*names), CP311_GLIBC_2_31)
    assert isinstance(result, NoWheel) and result.sdist is None
    assert result.reason.startswith(
        "demo==1.0: no wheel for cpython 3.11.7 on linux-x86_64 (glibc 2.31).\n"
        "The index's wheels of it (with a hash the lock allows): demo-1.0-cp312-cp312-linux_x86_64.whl.\n"
        "Not for this Python: demo-1.0-py2.py3-none-any.whl (Requires-Python >=3.12).\n"
        "The tags tried (")


def test_no_compatible_wheel_lists_the_wheels_and_the_tags_tried():
    names = ["demo-1.0-cp311-cp311-manylinux_2_34_x86_64.whl", "demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl",
             "demo-1.0-cp311-cp311-win_amd64.whl", "demo-1.0.tar.gz"]
    result = select_wheel([file(n) for n in names], pin(*names), CP311_GLIBC_2_31)
    assert isinstance(result, NoWheel)
    assert result.sdist == file("demo-1.0.tar.gz")
    lines = result.reason.splitlines()
    assert lines[:3] == [
        "demo==1.0: no wheel for cpython 3.11.7 on linux-x86_64 (glibc 2.31).",
        "The index's wheels of it (with a hash the lock allows): demo-1.0-cp311-cp311-manylinux_2_34_x86_64.whl, "
        "demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl, demo-1.0-cp311-cp311-win_amd64.whl.",
        "Its source distribution: demo-1.0.tar.gz."]
    n = len(CP311_GLIBC_2_31.tags())
    assert lines[3] == (
        f"The tags tried ({n}, most preferred first: cp311-cp311-linux_x86_64) combine the interpreters cp311, "
        "cp310, cp39, cp38, cp37, cp36, …, py30 (23), the ABIs cp311, abi3, none and the platforms linux_x86_64, "
        "manylinux_2_31_x86_64, manylinux_2_30_x86_64, manylinux_2_29_x86_64, manylinux_2_28_x86_64, "
        "manylinux_2_27_x86_64, …, any (32).")


def test_only_an_sdist():
    result = select_wheel([file("demo-1.0.tar.gz")], pin("demo-1.0.tar.gz"), CP311_GLIBC_2_31)
    assert result == NoWheel("demo==1.0: the index has only a source distribution (demo-1.0.tar.gz) for cpython "
                             "3.11.7 on linux-x86_64 (glibc 2.31)", file("demo-1.0.tar.gz"))


def test_nothing_the_lock_allows():
    result = select_wheel([file("demo-1.0-py3-none-any.whl")], pin("x"), CP311_GLIBC_2_31)
    assert result == NoWheel("demo==1.0: the index has no file with a sha256 the lock allows for cpython 3.11.7 on "
                             f"linux-x86_64 (glibc 2.31) (the lock allows {digest('x')})", None)


def test_a_yanked_wheel_only_when_nothing_else_fits_and_a_higher_build_breaks_ties():
    names = ["demo-1.0-cp311-cp311-linux_x86_64.whl", "demo-1.0-py3-none-any.whl", "demo-1.0-2-py3-none-any.whl"]
    files = [file(names[0], yanked="broken"), file(names[1]), file(names[2])]
    assert select_wheel(files, pin(*names), CP311_GLIBC_2_31).file == file(names[2])
    assert select_wheel(files[:1], pin(*names), CP311_GLIBC_2_31).file.yanked == "broken"


def test_normalised_names_match_the_wheel_file_names():
    name = "Zope.Interface-6.0-py3-none-any.whl"
    chosen = select_wheel([file(name)], pin(name, name="zope-interface", version="6.0"), CP311_GLIBC_2_31)
    assert isinstance(chosen, WheelChoice) and chosen.file.filename == name
