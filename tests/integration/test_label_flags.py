"""label_flag and label_setting: a dependency on one stands for the target it is set to.

The default is `build_setting_default`; `--//pkg:flag=//other:target` sets a label_flag (the value is
part of the configuration); the chosen target is analysed in the depender's configuration and its
providers are the flag's. Bad values are command-line errors that name the flag and the value.
"""

from __future__ import annotations

import re

COMMAND_LINE_ERROR = 2

BUILD = """
label_flag(name = "greeting", build_setting_default = ":hello")
label_setting(name = "fixed", build_setting_default = ":hello")

genrule(name = "hello", outs = ["hello.txt"], cmd = "echo hello > $@")

load("@bazel_skylib//rules:common_settings.bzl", "string_flag")
string_flag(name = "tone", build_setting_default = "plain")
config_setting(name = "loud", flag_values = {":tone": "loud"})

# What the flag and the setting stand for, copied out: the test reads which target it was.
genrule(name = "said", srcs = [":greeting"], outs = ["said.txt"], cmd = "cat $(SRCS) > $@")
genrule(name = "fixed_said", srcs = [":fixed"], outs = ["fixed_said.txt"], cmd = "cat $(SRCS) > $@")
"""

OTHER = """
genrule(
    name = "bye",
    outs = ["bye.txt"],
    cmd = select({
        "//pkg:loud": "echo BYE > $@",
        "//conditions:default": "echo bye > $@",
    }),
)
"""


def _ws(ws):
    ws.write("pkg/BUILD.bazel", BUILD)
    ws.write("other/BUILD.bazel", OTHER)


def _said(ws, *flags: str) -> str:
    r = ws.kiln("build", "//pkg:said", *flags)
    assert r.code == 0, r.output
    return (ws.root / "kiln-bin/pkg/said.txt").read_text().strip()


def test_a_label_flag_stands_for_its_default_until_the_command_line_sets_it(ws):
    _ws(ws)
    assert _said(ws) == "hello"
    assert _said(ws, "--//pkg:greeting=//other:bye") == "bye"
    assert _said(ws) == "hello"


def test_the_chosen_target_is_analysed_in_the_dependers_configuration(ws):
    _ws(ws)
    # //other:bye selects on //pkg:tone: the value the depender's configuration holds reaches it.
    assert _said(ws, "--//pkg:greeting=//other:bye", "--//pkg:tone=loud") == "BYE"


def test_only_the_chosen_target_is_analysed(ws):
    _ws(ws)
    r = ws.kiln("cquery", "deps(//pkg:said)", "--//pkg:greeting=//other:bye")
    assert r.code == 0, r.output
    assert "//other:bye" in r.stdout
    assert "//pkg:hello" not in r.stdout


def test_two_values_of_a_label_flag_are_two_configurations(ws):
    _ws(ws)

    def config_of(*flags: str) -> str:
        r = ws.kiln("cquery", "//pkg:said", *flags)
        assert r.code == 0, r.output
        return re.search(r"//pkg:said \((\w+)\)", r.stdout).group(1)

    default, bye, hello = config_of(), config_of("--//pkg:greeting=//other:bye"), config_of("--//pkg:greeting=//pkg:hello")
    assert bye != default
    assert bye != hello


def test_a_label_flag_may_point_at_another_label_flag(ws):
    _ws(ws)
    ws.write("chain/BUILD.bazel", 'label_flag(name = "outer", build_setting_default = ":inner")\n'
                                  'label_flag(name = "inner", build_setting_default = "//pkg:hello")\n'
                                  'genrule(name = "said", srcs = [":outer"], outs = ["said.txt"], '
                                  'cmd = "cat $(SRCS) > $@")\n')

    def said(*flags: str) -> str:
        r = ws.kiln("build", "//chain:said", *flags)
        assert r.code == 0, r.output
        return (ws.root / "kiln-bin/chain/said.txt").read_text().strip()

    assert said() == "hello"
    assert said("--//chain:inner=//other:bye") == "bye"
    assert said("--//chain:inner=//other:bye", "--//chain:outer=//pkg:hello") == "hello"


def test_a_label_setting_stands_for_its_default(ws):
    _ws(ws)
    r = ws.kiln("build", "//pkg:fixed_said")
    assert r.code == 0, r.output
    assert (ws.root / "kiln-bin/pkg/fixed_said.txt").read_text() == "hello\n"


def _refused(ws, *flags: str) -> str:
    _ws(ws)
    r = ws.kiln("build", "//pkg:said", *flags)
    assert r.code == COMMAND_LINE_ERROR, r.output
    assert "Traceback" not in r.output
    return r.stderr


def test_a_label_flag_set_to_a_missing_package_names_the_flag_and_the_label(ws):
    err = _refused(ws, "--//pkg:greeting=//does/not:exist")
    assert "invalid option --//pkg:greeting=//does/not:exist: no such package '//does/not'" in err, err


def test_a_label_flag_set_to_a_missing_target_names_the_flag_and_the_label(ws):
    err = _refused(ws, "--//pkg:greeting=//other:nope")
    assert "invalid option --//pkg:greeting=//other:nope: no such target '//other:nope'" in err, err


def test_a_label_flag_set_to_something_that_is_not_a_label_says_so(ws):
    err = _refused(ws, "--//pkg:greeting=not a label")
    assert "invalid option --//pkg:greeting=not a label: Error setting //pkg:greeting: 'not a label' is not " \
           "a label" in err, err


def test_a_label_setting_cannot_be_set_on_the_command_line(ws):
    err = _refused(ws, "--//pkg:fixed=//other:bye")
    assert "invalid option --//pkg:fixed=//other:bye: '//pkg:fixed' is a label_setting" in err, err
