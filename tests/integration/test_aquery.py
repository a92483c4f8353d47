"""`kiln aquery`: the actions of configured targets, with the keys the caches really use.

The key aquery prints must be the one a build files the result under (in the
local action cache and in --disk_cache's ac/), the same for a copy of the
workspace at another path, changed by an edit that --explain blames — and
unknown, said so, while an input that only a build can produce is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil

from conftest import Workspace

from kiln.core.config import Configuration

# up: a source -> up.out ; both: up.out + a source -> both.out ; g: a tool built in the exec configuration.
BUILD = r"""
genrule(name = "up", srcs = ["a.txt"], outs = ["up.out"], cmd = "tr a-z A-Z < $< > $@", tags = ["no-remote-exec"])
genrule(name = "both", srcs = [":up", "b.txt"], outs = ["both.out"], cmd = "cat $(SRCS) > $@")
genrule(name = "tool", outs = ["tool.sh"], cmd = "printf '#!/bin/sh\necho made > $$1\n' > $@", executable = True)
genrule(name = "g", outs = ["g.txt"], tools = [":tool"], cmd = "$(execpath :tool) $@")
py_binary(name = "pytool", srcs = ["pytool.py"])
genrule(name = "pyg", outs = ["pyg.txt"], tools = [":pytool"], cmd = "$(execpath :pytool) $@")
"""


def _setup(ws: Workspace) -> None:
    ws.write("p/BUILD.bazel", BUILD)
    ws.write("p/a.txt", "apple\n")
    ws.write("p/b.txt", "banana\n")
    ws.write("p/pytool.py", "import sys\nopen(sys.argv[1], 'w').write('made')\n")


def _edit(path, text):
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def _aquery(ws: Workspace, *args: str) -> str:
    r = ws.kiln("aquery", *args)
    assert r.code == 0, r.output
    return r.stdout


def _actions(text: str) -> dict[str, dict[str, str]]:
    """Per action, by its first output, the `Name: value` lines aquery printed."""
    found = {}
    for block in text.strip().split("\n\n"):
        fields = dict(re.findall(r"^ {2}(\w[\w ]*): (.*)$", block, re.M))
        fields["progress"] = block.splitlines()[0]
        fields["text"] = block
        found[fields["Outputs"].strip("[]").split(", ")[0]] = fields
    return found


def _key(ws: Workspace, expr: str, output: str, *args: str) -> str:
    return _actions(_aquery(ws, expr, *args))[output]["ActionKey"]


T = Configuration()
E = T.exec_configuration()
UP, BOTH, G = (f"{T.bin_dir}/p/{n}" for n in ("up.out", "both.out", "g.txt"))
TOOL = f"{E.bin_dir}/p/tool.sh"
UNKNOWN = "(unknown until the inputs are built: run kiln build first)"


def test_text_shows_each_action_as_bazel_does(ws):
    _setup(ws)
    text = _aquery(ws, "//p:up")
    actions = _actions(text)
    assert list(actions) == [UP]
    up = actions[UP]
    assert up["progress"] == "action 'Executing genrule //p:up'"
    assert up["Mnemonic"] == "Genrule"
    assert up["Target"] == "//p:up"
    assert up["Configuration"] == "k8-fastbuild"
    assert up["Execution platform"] == "@platforms//host:host"
    assert re.fullmatch(r"[0-9a-f]{64}", up["ActionKey"])
    assert up["Inputs"] == "[p/a.txt]"
    assert up["Outputs"] == f"[{UP}]"
    assert "PATH=" in up["Environment"]
    assert "  Command Line: (exec /bin/bash \\\n    -c \\\n" in up["text"]
    assert "tr a-z A-Z < p/a.txt > " in up["text"]
    assert f"\n# Configuration: {T.id}\n# Execution platform: @platforms//host:host\n" in up["text"]
    assert up["ExecutionInfo"] == "{no-remote-exec: 1}"


def test_deps_shows_the_tool_action_in_the_exec_configuration_whose_id_cquery_prints(ws):
    _setup(ws)
    actions = _actions(_aquery(ws, "deps(//p:g)"))
    assert set(actions) == {G, TOOL}
    assert actions[TOOL]["Configuration"] == E.name
    assert f"# Configuration: {E.id}" in actions[TOOL]["text"]
    cquery = ws.kiln("cquery", "//p:g").stdout
    assert cquery.strip() == f"//p:g ({T.short_id})" and T.id.startswith(T.short_id)
    assert actions[G]["Inputs"] == f"[{TOOL}]"


def test_filters_select_actions_by_mnemonic_inputs_and_outputs(ws):
    _setup(ws)
    everything = "deps(//p:both) + deps(//p:g)"
    assert set(_actions(_aquery(ws, f"inputs('p/a\\.txt', {everything})"))) == {UP}
    assert set(_actions(_aquery(ws, f"outputs('.*/(both|g)\\..*', {everything})"))) == {BOTH, G}
    assert set(_actions(_aquery(ws, f"mnemonic(Genrule, inputs('.*tool.sh', {everything}))"))) == {G}
    r = ws.kiln("aquery", f"mnemonic(CppCompile, {everything})")
    assert r.code == 0 and r.stdout == ""
    assert "Empty query results" in r.stderr


def test_the_key_is_unknown_until_the_inputs_it_needs_are_built_then_it_is_the_cache_key(ws, tmp_path):
    _setup(ws)
    disk = tmp_path / "disk"
    before = _actions(_aquery(ws, "deps(//p:both)"))
    assert before[BOTH]["ActionKey"] == UNKNOWN  # up.out was never built
    up_key = before[UP]["ActionKey"]  # sources only: known before any build
    r = ws.kiln("build", "//p:both", f"--disk_cache={disk}")
    assert r.code == 0, r.output
    after = _actions(_aquery(ws, "deps(//p:both)"))
    assert after[UP]["ActionKey"] == up_key
    for out in (UP, BOTH):
        key = after[out]["ActionKey"]
        assert re.fullmatch(r"[0-9a-f]{64}", key), after[out]["text"]
        assert (disk / "ac" / key[:2] / key).is_file()
        assert (ws.output_base / "ac" / key[:2] / key).is_file()


def test_every_action_of_a_build_is_filed_under_the_key_aquery_prints(ws):
    _setup(ws)
    r = ws.kiln("build", "//p:all")
    assert r.code == 0, r.output
    executed = int(re.search(r"(\d+) actions executed", r.output)[1])
    actions = _actions(_aquery(ws, "deps(//p:all)"))
    # File writes (the py_binary's launchers) and a tool run from its runfiles tree included.
    assert len(actions) == executed and executed >= 7
    assert {a["Mnemonic"] for a in actions.values()} >= {"Genrule", "PyLauncher"}
    for action in actions.values():
        key = action["ActionKey"]
        assert (ws.output_base / "ac" / key[:2] / key).is_file(), action["text"]


def test_a_copy_of_the_workspace_at_another_path_has_the_same_keys(ws, tmp_path):
    _setup(ws)
    assert ws.kiln("build", "//p:both", "//p:g").code == 0
    expr = "deps(//p:both) + deps(//p:g)"
    here = _actions(_aquery(ws, expr))
    (tmp_path / "elsewhere/copy").mkdir(parents=True)
    other = Workspace(tmp_path / "elsewhere/copy", tmp_path / "other_output_base")
    shutil.copytree(ws.root / "p", other.root / "p")
    assert other.kiln("build", "//p:both", "//p:g").code == 0
    there = _actions(_aquery(other, expr))
    assert set(there) == {UP, BOTH, TOOL, G}
    assert {o: a["ActionKey"] for o, a in there.items()} == {o: a["ActionKey"] for o, a in here.items()}


def test_explain_blames_the_edited_input_of_the_action_whose_key_changed(ws, tmp_path):
    _setup(ws)
    disk = tmp_path / "disk"
    assert ws.kiln("build", "//p:both", f"--disk_cache={disk}").code == 0
    old = _key(ws, "//p:up", UP)
    _edit(ws.root / "p/a.txt", "avocado\n")
    new = _key(ws, "//p:up", UP)
    assert re.fullmatch(r"[0-9a-f]{64}", new) and new != old
    r = ws.kiln("build", "//p:both", "--explain", f"--disk_cache={disk}")
    assert r.code == 0, r.output
    line = next(l for l in r.stderr.splitlines() if l.startswith("Executing action") and "//p:up" in l)
    assert "input changed: p/a.txt" in line
    # The result of the re-run is filed under the key aquery printed.
    assert (disk / "ac" / new[:2] / new).is_file()
    assert _key(ws, "//p:up", UP) == new


def test_jsonproto_holds_the_same_actions_and_keys(ws):
    _setup(ws)
    assert ws.kiln("build", "//p:both").code == 0
    text = _actions(_aquery(ws, "deps(//p:both)"))
    container = json.loads(_aquery(ws, "deps(//p:both)", "--output=jsonproto"))
    fragments = {f["id"]: f for f in container["pathFragments"]}

    def path(fid):
        f = fragments[fid]
        return f"{path(f['parentId'])}/{f['label']}" if "parentId" in f else f["label"]

    paths = {a["id"]: path(a["pathFragmentId"]) for a in container["artifacts"]}
    sets = {d["id"]: d for d in container["depSetOfFiles"]}

    def inputs(ids):
        out, stack = [], list(ids)
        while stack:
            d = sets[stack.pop()]
            out += [paths[i] for i in d.get("directArtifactIds", ())]
            stack += d.get("transitiveDepSetIds", ())
        return sorted(out)

    targets = {t["id"]: t["label"] for t in container["targets"]}
    configs = {c["id"]: c for c in container["configuration"]}
    by_output = {paths[a["primaryOutputId"]]: a for a in container["actions"]}
    assert set(by_output) == {UP, BOTH}
    for out, action in by_output.items():
        assert action["actionKey"] == text[out]["ActionKey"]
        assert targets[action["targetId"]] == text[out]["Target"]
        assert configs[action["configurationId"]]["checksum"] == T.id
        assert action["arguments"][:2] == ["/bin/bash", "-c"]
        assert "[" + ", ".join(inputs(action["inputDepSetIds"])) + "]" == text[out]["Inputs"]
    assert {r["name"] for r in container["ruleClasses"]} == {"genrule"}


def _refused(ws, *args: str) -> str:
    r = ws.kiln("aquery", *args)
    assert r.code == 2, r.output
    assert "Traceback" not in r.output
    return r.stderr


def test_bad_input_is_a_command_line_error_with_a_message(ws):
    _setup(ws)
    assert "ERROR: --output=label is not an aquery output; kiln aquery supports text, jsonproto" in \
        _refused(ws, "//p:up", "--output=label")
    assert "--output" in _refused(ws, "//p:up", "--output=yaml")
    err = _refused(ws, "deps(//p:up")
    assert "syntax error" in err and "deps(//p:up\n" in err
    assert "unknown function 'frobnicate'" in _refused(ws, "frobnicate(//p:up)")
    err = _refused(ws, 'mnemonic("(", //p:up)')
    assert "invalid regular expression '('" in err and "column 10" in err
    assert "missing query expression" in _refused(ws)


def test_after_kiln_clean_the_disk_cache_still_knows_what_the_inputs_were(ws, tmp_path):
    _setup(ws)
    disk = tmp_path / "disk"
    assert ws.kiln("build", "//p:both", f"--disk_cache={disk}").code == 0
    built = _key(ws, "//p:both", BOTH)
    assert ws.kiln("clean").code == 0
    # The local action cache is gone: only the disk cache can say what up.out will be.
    assert _key(ws, "//p:both", BOTH) == UNKNOWN
    assert _key(ws, "//p:both", BOTH, f"--disk_cache={disk}") == built
    r = ws.kiln("build", "//p:both", f"--disk_cache={disk}")
    assert r.code == 0 and "0 actions executed, 2 from cache" in r.output, r.output


def test_rc_lines_for_aquery_and_the_build_options_it_inherits_apply(ws, tmp_path):
    _setup(ws)
    disk = tmp_path / "disk"
    ws.write(".bazelrc", f"build --disk_cache={disk}\naquery --output=jsonproto\n")
    assert ws.kiln("build", "//p:both").code == 0
    assert ws.kiln("clean").code == 0
    container = json.loads(_aquery(ws, "//p:both"))
    (action,) = container["actions"]
    # Known only through the disk cache the build line names.
    assert (disk / "ac" / action["actionKey"][:2] / action["actionKey"]).is_file()
