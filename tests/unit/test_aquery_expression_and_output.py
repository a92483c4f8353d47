"""aquery's expression (filters around a cquery expression) and its two output formats."""

from __future__ import annotations

import json

import pytest

from kiln.core.actions import Action, ActionKind
from kiln.core.artifacts import Artifact
from kiln.core.config import Configuration
from kiln.core.depset import Depset
from kiln.core.errors import ExitCode
from kiln.core.labels import parse_label
from kiln.query.aquery import AqueryError, parse
from kiln.query.aquery_output import UNKNOWN_KEY, ActionRow, format_jsonproto, format_text
from kiln.query.errors import QueryError

CONFIG = Configuration()
BIN = CONFIG.bin_dir
OWNER = parse_label("//pkg:gen")


def _genrule(**overrides) -> Action:
    src = Artifact("", "pkg/in.txt", OWNER)
    tool = Artifact(BIN, "pkg/tool.sh", OWNER)
    fields = dict(
        owner=OWNER, mnemonic="Genrule", progress_message="Executing genrule //pkg:gen",
        outputs=(Artifact(BIN, "pkg/out.txt", OWNER),), inputs=Depset((src,), (Depset((tool,)),)),
        argv=("/bin/bash", "-c", "cat pkg/in.txt > out"), env=(("PATH", "/bin:/usr/bin"), ("LANG", "C")),
        execution_requirements=(("no-remote", "1"),),
    )
    fields.update(overrides)
    return Action(**fields)


# ---- the expression ---------------------------------------------------------

def test_an_expression_without_filters_is_the_cquery_expression():
    expr = parse("deps(//pkg:gen)")
    assert expr.filters == ()
    assert expr.targets == "deps(//pkg:gen)"


def test_filters_are_taken_off_and_columns_of_the_inner_expression_are_kept():
    text = 'mnemonic("Gen.*", outputs(".*\\.txt", deps(//pkg:gen)))'
    expr = parse(text)
    assert [f.function for f in expr.filters] == ["mnemonic", "outputs"]
    assert expr.targets.strip() == "deps(//pkg:gen)"
    assert expr.targets.index("deps") == text.index("deps")


def test_filter_regexes_must_match_the_whole_text():
    action = _genrule()
    assert parse("mnemonic(Gen, //x)").keeps(action) is False
    assert parse("mnemonic(Genrule, //x)").keeps(action) is True
    assert parse("mnemonic('Gen.*', //x)").keeps(action) is True


def test_inputs_and_outputs_filters_match_any_file_by_exec_path():
    action = _genrule()
    assert parse("inputs('pkg/in.txt', //x)").keeps(action)
    assert parse(f"inputs('{BIN}/pkg/tool.sh', //x)").keeps(action)
    assert not parse("inputs('in.txt', //x)").keeps(action)
    assert parse("outputs('.*/out\\.txt', //x)").keeps(action)
    assert not parse("outputs('pkg/in.txt', //x)").keeps(action)


def test_nested_filters_must_all_hold():
    action = _genrule()
    assert not parse("mnemonic(Genrule, outputs('nothing', //x))").keeps(action)


def _error(text: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(text)
    assert info.value.exit_code == ExitCode.COMMAND_LINE_ERROR
    return info.value


def test_a_bad_regex_in_a_filter_is_a_command_line_error_pointing_at_it():
    err = _error('mnemonic("(", //pkg:gen)')
    assert "invalid regular expression '('" in err.message
    assert err.column == len("mnemonic(") + 1


def test_a_filter_inside_a_target_function_is_rejected():
    err = _error("deps(mnemonic(Genrule, //pkg:gen))")
    assert "mnemonic() filters actions" in err.message
    assert err.column == len("deps(") + 1


def test_a_filter_must_enclose_the_whole_expression():
    err = _error("mnemonic(Genrule, //a) + //b")
    assert "must enclose the whole expression" in err.message


@pytest.mark.parametrize("text", ["mnemonic(//pkg:gen)", "mnemonic(", "inputs(x", "outputs()"])
def test_a_filter_without_its_regex_is_rejected_with_its_usage(text):
    assert f"{text.split('(')[0]}(REGEX, expr)" in _error(text).message


def test_an_unknown_function_is_named_with_the_functions_aquery_has():
    err = _error("frobnicate(//pkg:gen)")
    assert "unknown function 'frobnicate'" in err.message
    assert "mnemonic" in err.message and "deps" in err.message


def test_a_query_function_cquery_lacks_is_not_an_aquery_function():
    assert "does not support the function 'rdeps'" in _error("rdeps(//..., //pkg:gen)").message


def test_a_filter_around_nothing_is_rejected():
    assert "expected an expression" in _error("mnemonic(Genrule, )").message


def test_an_unclosed_filter_is_a_syntax_error():
    _error("mnemonic(Genrule, //pkg:gen")


# ---- text --------------------------------------------------------------------

def test_text_prints_an_action_as_bazel_does():
    row = ActionRow(_genrule(), "genrule", CONFIG, "@platforms//host:host", "ab" * 32)
    assert format_text([row]) == (
        "action 'Executing genrule //pkg:gen'\n"
        "  Mnemonic: Genrule\n"
        "  Target: //pkg:gen\n"
        "  Configuration: k8-fastbuild\n"
        "  Execution platform: @platforms//host:host\n"
        f"  ActionKey: {'ab' * 32}\n"
        f"  Inputs: [{BIN}/pkg/tool.sh, pkg/in.txt]\n"
        f"  Outputs: [{BIN}/pkg/out.txt]\n"
        "  Environment: [LANG=C, PATH=/bin:/usr/bin]\n"
        "  Command Line: (exec /bin/bash \\\n"
        "    -c \\\n"
        "    'cat pkg/in.txt > out')\n"
        f"# Configuration: {CONFIG.id}\n"
        "# Execution platform: @platforms//host:host\n"
        "  ExecutionInfo: {no-remote: 1}\n"
        "\n"
    )


def test_text_says_when_the_key_is_not_known_yet():
    text = format_text([ActionRow(_genrule(), "genrule", CONFIG, "@platforms//host:host")])
    assert f"  ActionKey: {UNKNOWN_KEY}\n" in text
    assert "run kiln build first" in text


def test_a_file_write_has_no_command_line_and_a_tree_output_is_marked():
    write = Action(OWNER, "FileWrite", "", (Artifact(BIN, "pkg/dir", OWNER, is_directory=True),),
                   kind=ActionKind.WRITE, content=b"x")
    text = format_text([ActionRow(write, "genrule", CONFIG, "@platforms//host:host", "cd" * 32)])
    assert "action 'FileWrite //pkg:gen'" in text
    assert f"Outputs: [{BIN}/pkg/dir (TreeArtifact)]" in text
    assert "Command Line" not in text and "Environment" not in text and "ExecutionInfo" not in text


# ---- jsonproto ---------------------------------------------------------------

def _paths(container: dict) -> dict[int, str]:
    fragments = {f["id"]: f for f in container["pathFragments"]}

    def path(fid: int) -> str:
        f = fragments[fid]
        return f"{path(f['parentId'])}/{f['label']}" if "parentId" in f else f["label"]

    return {a["id"]: path(a["pathFragmentId"]) for a in container["artifacts"]}


def _expand(container: dict, ids: list[int], paths: dict[int, str]) -> list[str]:
    sets = {d["id"]: d for d in container["depSetOfFiles"]}
    out: list[str] = []
    stack = list(ids)
    while stack:
        d = sets[stack.pop()]
        out.extend(paths[a] for a in d.get("directArtifactIds", ()))
        stack.extend(d.get("transitiveDepSetIds", ()))
    return sorted(out)


def test_jsonproto_is_an_action_graph_container():
    tool_cfg = CONFIG.exec_configuration()
    rows = [ActionRow(_genrule(), "genrule", CONFIG, "@platforms//host:host", "ab" * 32),
            ActionRow(_genrule(outputs=(Artifact(tool_cfg.bin_dir, "pkg/out.txt", OWNER),)), "genrule", tool_cfg,
                      "@platforms//host:host")]
    container = json.loads(format_jsonproto(rows))
    assert set(container) == {"artifacts", "actions", "targets", "depSetOfFiles", "configuration", "ruleClasses",
                              "pathFragments"}
    first, second = container["actions"]
    assert first["actionKey"] == "ab" * 32 and "actionKey" not in second
    assert first["mnemonic"] == "Genrule"
    assert first["arguments"] == ["/bin/bash", "-c", "cat pkg/in.txt > out"]
    assert first["environmentVariables"] == [{"key": "LANG", "value": "C"}, {"key": "PATH", "value": "/bin:/usr/bin"}]
    assert first["executionInfo"] == [{"key": "no-remote", "value": "1"}]
    assert first["executionPlatform"] == "@platforms//host:host"
    paths = _paths(container)
    assert [paths[i] for i in first["outputIds"]] == [f"{BIN}/pkg/out.txt"]
    assert first["primaryOutputId"] == first["outputIds"][0]
    assert _expand(container, first["inputDepSetIds"], paths) == [f"{BIN}/pkg/tool.sh", "pkg/in.txt"]
    # The same target and rule class are listed once; each configuration once, the exec one as a tool.
    assert container["targets"] == [{"id": 1, "label": "//pkg:gen", "ruleClassId": 1}]
    assert container["ruleClasses"] == [{"id": 1, "name": "genrule"}]
    configs = {c["id"]: c for c in container["configuration"]}
    assert configs[first["configurationId"]] == {"id": first["configurationId"], "mnemonic": "k8-fastbuild",
                                                 "platformName": "k8", "checksum": CONFIG.id}
    assert configs[second["configurationId"]]["isTool"] is True
    assert configs[second["configurationId"]]["mnemonic"] == tool_cfg.name


def test_jsonproto_shares_nested_depsets_and_path_fragments():
    shared = Depset((Artifact("", "pkg/common.txt", OWNER),))
    a = _genrule(inputs=Depset((Artifact("", "pkg/a.txt", OWNER),), (shared,)))
    b = _genrule(inputs=Depset((Artifact("", "pkg/b.txt", OWNER),), (shared,)),
                 outputs=(Artifact(BIN, "pkg/other.txt", OWNER),))
    container = json.loads(format_jsonproto([ActionRow(x, "genrule", CONFIG, "p") for x in (a, b)]))
    sets = container["depSetOfFiles"]
    assert len(sets) == 3  # the shared one, then one per action that nests it
    common = [d["id"] for d in sets if "transitiveDepSetIds" not in d]
    assert all(d["transitiveDepSetIds"] == common for d in sets if "transitiveDepSetIds" in d)
    labels = [f["label"] for f in container["pathFragments"]]
    assert labels.count("pkg") == 2  # one under the source root, one under the bin directory
    assert labels.count("kiln-out") == 1


def test_jsonproto_of_nothing_is_an_empty_container():
    assert json.loads(format_jsonproto([])) == {}
