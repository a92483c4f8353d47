"""test_suite expansion shared by `kiln test` and query's tests(), and Bazel's tag filters."""

from pathlib import Path

from kiln.core.labels import parse_label
from kiln.loading.loader import Loader
from kiln.loading.test_suites import expand_tests, tags_pass
from kiln.loading.workspace import Workspace
from kiln.rules import default_registry

BUILD = """
py_test(name = "small_fast", srcs = ["t.py"], size = "small", tags = ["fast"])
py_test(name = "large_fast", srcs = ["t.py"], size = "large", tags = ["fast"])
py_test(name = "slow", srcs = ["t.py"], tags = ["slow"])
py_test(name = "hidden", srcs = ["t.py"], tags = ["manual"])
test_suite(name = "small_only", tags = ["small"])
test_suite(name = "plus_fast", tags = ["+fast", "-large"])
test_suite(name = "outer", tests = [":small_only", ":slow"], tags = ["slow"])
test_suite(name = "everything")
test_suite(name = "loop_a", tests = [":loop_b"])
test_suite(name = "loop_b", tests = [":loop_a", ":slow"])
"""


def expand(tmp_path: Path, name: str) -> list[str]:
    (tmp_path / "MODULE.bazel").write_text("")
    (tmp_path / "t").mkdir(exist_ok=True)
    (tmp_path / "t/BUILD").write_text(BUILD)
    (tmp_path / "t/t.py").write_text("")
    loader = Loader(Workspace(tmp_path), default_registry(), report=lambda level, text: None)
    suite = loader.get_target(parse_label(f"//t:{name}"))
    found = expand_tests(
        [suite],
        listed=lambda s: [loader.get_target(l) for l in s.attrs.get("tests") or ()],
        package_tests=lambda s: loader.load_package(s.label.package_id).rules(),
    )
    return sorted(label.name for label in found)


def test_size_counts_as_a_tag(tmp_path):
    assert expand(tmp_path, "small_only") == ["small_fast"]


def test_plus_and_minus_tags(tmp_path):
    assert expand(tmp_path, "plus_fast") == ["small_fast"]


def test_nested_suite_keeps_its_own_filter(tmp_path):
    # outer's "slow" filters its direct tests only; small_only still contributes small_fast.
    assert expand(tmp_path, "outer") == ["slow", "small_fast"]


def test_empty_suite_means_the_package_without_manual(tmp_path):
    assert expand(tmp_path, "everything") == ["large_fast", "slow", "small_fast"]


def test_suite_cycle_terminates(tmp_path):
    assert expand(tmp_path, "loop_a") == ["slow"]


def test_command_line_tag_filters_need_any_required_tag():
    assert tags_pass(["a", "b"], ("b", "c"))
    assert not tags_pass(["a"], ("b", "c"))
    assert not tags_pass(["a", "b"], ("a", "-b"))
    assert tags_pass([], ())
