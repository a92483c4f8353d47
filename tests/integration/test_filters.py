"""Tag and size filters, streamed test output, and options kiln does not support yet."""

import pytest

from conftest import Workspace


@pytest.fixture(scope="module")
def fws(tmp_path_factory) -> Workspace:
    base = tmp_path_factory.mktemp("filters")
    (base / "ws").mkdir()
    (base / "home").mkdir()
    ws = Workspace(base / "ws", base / "output_base")
    ws.write("t/BUILD", """
        py_test(name = "a", srcs = ["a.py"], size = "small", tags = ["fast"])
        py_test(name = "b", srcs = ["b.py"], size = "large", tags = ["slow"])
        py_test(name = "c", srcs = ["c.py"], size = "small")
        genrule(name = "g", outs = ["g.txt"], cmd = "echo g > $@", tags = ["gen"])
    """)
    for name in "abc":
        ws.write(f"t/{name}.py", f"print('output of {name}')\n")
    return ws


def ran_tests(result) -> set[str]:
    return {line.split()[0] for line in result.stderr.splitlines() if line.startswith("//t:")}


def test_tag_filters(fws):
    r = fws.kiln("test", "//t:all", "--test_tag_filters=fast")
    assert r.code == 0, r.output
    assert ran_tests(r) == {"//t:a"}
    r = fws.kiln("test", "//t:all", "--test_tag_filters=-slow")
    assert ran_tests(r) == {"//t:a", "//t:c"}


def test_size_filters(fws):
    r = fws.kiln("test", "//t:all", "--test_size_filters=large")
    assert ran_tests(r) == {"//t:b"}
    r = fws.kiln("test", "//t:all", "--test_size_filters=-large")
    assert ran_tests(r) == {"//t:a", "//t:c"}


def test_bad_size_filter_is_a_command_line_error(fws):
    r = fws.kiln("test", "//t:all", "--test_size_filters=huge")
    assert r.code == 2, r.output
    assert "huge" in r.stderr


def test_build_tag_filters(fws):
    r = fws.kiln("build", "//t:all", "--build_tag_filters=gen")
    assert r.code == 0, r.output
    assert "Target //t:g up-to-date" in r.stderr
    assert "//t:a" not in r.stderr


def test_streamed_output_appears_and_tests_still_report(fws):
    r = fws.kiln("test", "//t:a", "//t:c", "--test_output=streamed", "--nocache_test_results")
    assert r.code == 0, r.output
    assert "output of a" in r.stderr and "output of c" in r.stderr
    assert ran_tests(r) == {"//t:a", "//t:c"}


def test_host_platform_is_refused_by_name(fws):
    r = fws.kiln("build", "//t:a", "--host_platform=//p:host")
    assert r.code == 2, r.output
    assert "ERROR: --host_platform is not supported by kiln: the host platform is the detected @platforms//host" \
        in r.stderr
    assert "Traceback" not in r.output


def test_ignored_options_are_announced(fws):
    r = fws.kiln("build", "//t:g", "--verbose_failures", "--announce_rc")
    assert r.code == 0, r.output
    assert "--verbose_failures has no effect in kiln" in r.stderr


def test_announce_rc_names_the_rc_file(fws):
    fws.write(".bazelrc", "build --jobs=1\n")
    try:
        r = fws.kiln("build", "//t:g", "--announce_rc")
        assert r.code == 0, r.output
        assert "Reading rc options for 'build' from" in r.stderr and ".bazelrc: --jobs" in r.stderr
    finally:
        (fws.root / ".bazelrc").unlink()
