"""Native options in the configuration: what config_setting(values = ...) tests, and what leaves the id alone."""

from __future__ import annotations

from kiln.core.config import CONFIGURATION_OPTIONS, Configuration

STAMP_BUILD = """
    config_setting(name = "stamp_1", values = {"stamp": "1"})
    config_setting(name = "stamp_true", values = {"stamp": "true"})
    config_setting(name = "stamp_0", values = {"stamp": "0"})
    config_setting(name = "stamp_false", values = {"stamp": "false"})
    genrule(
        name = "report",
        outs = ["report.txt"],
        cmd = "echo " + select({":stamp_1": "1=yes", "//conditions:default": "1=no"})
            + " " + select({":stamp_true": "true=yes", "//conditions:default": "true=no"})
            + " " + select({":stamp_0": "0=yes", "//conditions:default": "0=no"})
            + " " + select({":stamp_false": "false=yes", "//conditions:default": "false=no"}) + " > $@",
    )
"""


def _report(ws, *flags: str) -> str:
    r = ws.kiln("build", "//p:report", *flags)
    assert r.code == 0, r.output
    return (ws.root / "kiln-bin/p/report.txt").read_text().strip()


def test_config_setting_tests_stamp_with_bazels_boolean_spellings(ws):
    ws.write("p/BUILD.bazel", STAMP_BUILD)
    assert _report(ws) == "1=no true=no 0=yes false=yes"
    assert _report(ws, "--stamp") == "1=yes true=yes 0=no false=no"
    assert _report(ws, "--stamp=yes") == "1=yes true=yes 0=no false=no"
    assert _report(ws, "--nostamp") == "1=no true=no 0=yes false=yes"
    ws.write(".bazelrc", "build --stamp\n")
    assert _report(ws) == "1=yes true=yes 0=no false=no"


PLATFORMS_BUILD = """
    platform(name = "a")
    platform(name = "b")
    config_setting(name = "has_a", values = {"extra_execution_platforms": "//p:a"})
    config_setting(name = "has_a_and_b", values = {"extra_execution_platforms": "//p:a,//p:b"})
    genrule(
        name = "report",
        outs = ["report.txt"],
        cmd = "echo " + select({":has_a": "a=yes", "//conditions:default": "a=no"})
            + " " + select({":has_a_and_b": "ab=yes", "//conditions:default": "ab=no"}) + " > $@",
    )
"""


def test_config_setting_tests_a_repeatable_option_by_membership(ws):
    ws.write("p/BUILD.bazel", PLATFORMS_BUILD)
    assert _report(ws) == "a=no ab=no"
    assert _report(ws, "--extra_execution_platforms=//p:b") == "a=no ab=no"
    assert _report(ws, "--extra_execution_platforms=//p:b,//p:a") == "a=yes ab=yes"
    assert _report(ws, "--extra_execution_platforms=//p:b", "--extra_execution_platforms=//p:a") == "a=yes ab=yes"
    assert _report(ws, "--extra_execution_platforms=//p:a") == "a=yes ab=no"


def _cquery_id(ws, *flags: str) -> str:
    r = ws.kiln("cquery", "//p:report", *flags)
    assert r.code == 0, r.output
    label, _, rest = r.stdout.strip().partition(" ")
    assert label == "//p:report", r.stdout
    return rest.strip("()")


def test_options_that_change_only_how_kiln_runs_leave_the_configuration_id_alone(ws):
    ws.write("p/BUILD.bazel", STAMP_BUILD)
    default = _cquery_id(ws)
    assert default == Configuration().short_id
    assert _cquery_id(ws, "--keep_going", "--jobs=1") == default
    assert _cquery_id(ws, "-k", "-j", "2", "--nocheck_visibility", "--subcommands", "--test_output=all",
                      "--sandbox_debug", "--symlink_prefix=x-", "--test_env=A=1") == default
    # An option the configuration holds does change it.
    stamped = _cquery_id(ws, "--stamp")
    assert stamped == Configuration(options=(("stamp", "true"),)).short_id != default
    r = ws.kiln("config", stamped)
    assert r.code == 0, r.output
    assert "  options:\n    stamp=true\n" in r.stdout


def test_config_setting_on_an_option_outside_the_configuration_is_a_clear_error(ws):
    supported = "compilation_mode, cpu, platforms, define, " + ", ".join(CONFIGURATION_OPTIONS)
    # keep_going is an option kiln knows, but not one of a configuration; the other is no option at all.
    for name in ("keep_going", "no_such_option"):
        ws.write("p/BUILD.bazel", f"""
            genrule(name = "g", outs = ["g.txt"], cmd = select({{":c": "echo a > $@", "//conditions:default": "echo b > $@"}}))
            config_setting(name = "c", values = {{"{name}": "1"}})
        """)
        r = ws.kiln("build", "//p:g")
        assert r.code == 1, r.output
        assert (f"ERROR: p/BUILD.bazel:2:1: in values attribute of config_setting rule //p:c: unknown option: "
                f"'{name}' (kiln's config_setting supports {supported})") in r.output
        assert "Traceback" not in r.output
