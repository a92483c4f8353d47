"""Rendering a query result in one of Bazel's `--output` formats.

Formats: label, label_kind, location, package, build, graph. Ordering
(`--order_output`): `auto` and `no` print targets sorted by label string
(kiln's results are sets, so "no order" is given a deterministic one);
`deps` and `full` print in Bazel's documented total dependency order:
start from each target in label order, do a post-order depth-first walk that
visits unvisited dependencies in label order, and print the reverse of the
visiting order, so a target comes before its dependencies. Only edges between
targets of the result count. `package` output is always sorted; `graph`
lists nodes and edges in label order whatever the ordering.

`build` prints each rule once, like Bazel: a generated file prints its
generating rule and a source file prints nothing. Only attributes that differ
from their schema default are shown, plus every select(); labels are printed
in canonical form (`//pkg:name`).
"""

from __future__ import annotations

from typing import Any, Iterable

from kiln.core.errors import CommandLineError, LabelError
from kiln.core.labels import Label, PackageId, parse_label
from kiln.core.select import Select, SelectorList
from kiln.loading.package import FileTarget, PackageGroup, RuleTarget, Target
from kiln.query.environment import QueryEnvironment

OUTPUT_FORMATS = ("build", "graph", "label", "label_kind", "location", "package")
ORDER_OUTPUTS = ("auto", "deps", "full", "no")


def format_result(
    targets: Iterable[Target],
    mode: str,
    env: QueryEnvironment | None = None,
    *,
    order_output: str = "auto",
) -> str:
    """The text `kiln query --output=<mode>` prints: one line (or block) per target, newline-terminated.

    `env` is only used by `build` output, to load the generating rule of a
    generated file that is not itself in `targets`.
    """
    if mode not in OUTPUT_FORMATS:
        raise CommandLineError(f"invalid output format '{mode}': valid formats are {', '.join(OUTPUT_FORMATS)}")
    if order_output not in ORDER_OUTPUTS:
        raise CommandLineError(f"invalid --order_output '{order_output}': valid values are {', '.join(ORDER_OUTPUTS)}")
    unique = {t.label: t for t in targets}
    if mode == "graph":
        return format_graph(unique)
    if mode == "package":
        return "".join(p + "\n" for p in sorted({package_name(label.package_id) for label in unique}))
    ordered = order_targets(unique, order_output)
    if mode == "label":
        return "".join(f"{t.label}\n" for t in ordered)
    if mode == "label_kind":
        return "".join(f"{t.kind} {t.label}\n" for t in ordered)
    if mode == "location":
        return "".join(f"{t.location}: {t.kind} {t.label}\n" for t in ordered)
    return format_build(ordered, unique, env)


def package_name(pkg: PackageId) -> str:
    """`pkg` for the main repository, `@repo//pkg` for others (Bazel's package output)."""
    return f"@{pkg.repo}//{pkg.package}" if pkg.repo else pkg.package


# ---- ordering -----------------------------------------------------------------------------


def _edges(targets: dict[Label, Target]) -> dict[Label, list[Label]]:
    """Direct dependencies of each target that are themselves in `targets`, in label order."""
    out: dict[Label, list[Label]] = {}
    for label, t in targets.items():
        deps = {dep for _, dep in t.dependency_labels() if dep in targets and dep != label}
        out[label] = sorted(deps, key=str)
    return out


def order_targets(targets: dict[Label, Target], order_output: str = "auto") -> list[Target]:
    by_string = sorted(targets, key=str)
    if order_output in ("auto", "no"):
        return [targets[label] for label in by_string]
    edges = _edges(targets)
    visited: set[Label] = set()
    post: list[Label] = []
    for start in by_string:
        if start in visited:
            continue
        visited.add(start)
        stack = [(start, iter(edges[start]))]
        while stack:
            node, deps = stack[-1]
            for dep in deps:
                if dep not in visited:
                    visited.add(dep)
                    stack.append((dep, iter(edges[dep])))
                    break
            else:
                stack.pop()
                post.append(node)
    return [targets[label] for label in reversed(post)]


# ---- graph --------------------------------------------------------------------------------


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_graph(targets: dict[Label, Target]) -> str:
    edges = _edges(targets)
    lines = ["digraph mygraph {", "  node [shape=box];"]
    order = sorted(targets, key=str)
    lines += [f"  {_dot_quote(str(label))}" for label in order]
    for label in order:
        lines += [f"  {_dot_quote(str(label))} -> {_dot_quote(str(dep))}" for dep in edges[label]]
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---- build --------------------------------------------------------------------------------


def starlark_string(text: str) -> str:
    out = ['"']
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\{ord(c):03o}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _condition(text: str, base: PackageId) -> str:
    # Conditions are stored as written; relative ones are shown in canonical form.
    # `@name` may be an apparent repo name only the loader can map, so it is left alone.
    if text.startswith("@"):
        return text
    try:
        return str(parse_label(text, base=base))
    except LabelError:
        return text


def starlark_value(value: Any, base: PackageId) -> str:
    """`value` written as Starlark source, as it would appear in a BUILD file."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return starlark_string(value)
    if isinstance(value, Label):
        return starlark_string(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(starlark_value(v, base) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{starlark_value(k, base)}: {starlark_value(v, base)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, Select):
        branches = ", ".join(
            f"{starlark_string(_condition(cond, base))}: {starlark_value(v, base)}" for cond, v in value.conditions
        )
        extra = f", no_match_error = {starlark_string(value.no_match_error)}" if value.no_match_error else ""
        return f"select({{{branches}}}{extra})"
    if isinstance(value, SelectorList):
        return " + ".join(starlark_value(p, base) for p in value.parts)
    return starlark_string(str(value))


def _normalized(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_normalized(v) for v in value)
    return value


def explicit_attrs(rule: RuleTarget) -> list[tuple[str, Any]]:
    """(name, value) of the attributes worth printing, in schema order, `name` excluded."""
    out = []
    schema = rule.rule_class.attrs
    for name in list(schema) + sorted(set(rule.attrs) - set(schema)):
        if name == "name" or name.startswith(("_", "$")):
            continue
        value = rule.attrs.get(name)
        if value is None:
            continue
        if not isinstance(value, (Select, SelectorList)) and name in schema:
            if _normalized(value) == _normalized(schema[name].empty()):
                continue
        out.append((name, value))
    return out


def format_rule(rule: RuleTarget) -> str:
    base = rule.label.package_id
    line = rule.location.line
    where = f"{rule.location.file}:{line}" if line else rule.location.file
    lines = [f"# {where}", f"{rule.rule_kind}(", f"  name = {starlark_string(rule.label.name)},"]
    lines += [f"  {name} = {starlark_value(value, base)}," for name, value in explicit_attrs(rule)]
    lines.append(")")
    if rule.call_stack:
        lines.append(f"# Rule {rule.label.name} instantiated at (most recent call last):")
        lines += [f"#   {frame}" for frame in rule.call_stack]
    return "\n".join(lines) + "\n"


def format_package_group(group: PackageGroup) -> str:
    line = group.location.line
    where = f"{group.location.file}:{line}" if line else group.location.file
    lines = [f"# {where}", "package_group(", f"  name = {starlark_string(group.label.name)},"]
    if group.packages:
        lines += ["  packages = ["] + [f"    {starlark_string(p)}," for p in group.packages] + ["  ],"]
    if group.includes:
        lines += ["  includes = ["] + [f"    {starlark_string(str(i))}," for i in group.includes] + ["  ],"]
    lines.append(")")
    return "\n".join(lines) + "\n"


def format_build(ordered: list[Target], targets: dict[Label, Target], env: QueryEnvironment | None) -> str:
    blocks: list[str] = []
    printed: set[Label] = set()
    for t in ordered:
        if isinstance(t, FileTarget):
            if t.generating_rule is None:
                continue  # source files have no BUILD syntax of their own
            rule = targets.get(t.generating_rule)
            if rule is None and env is not None:
                rule = env.get_target(t.generating_rule)
            if rule is None:
                continue
            t = rule
        if t.label in printed:
            continue
        printed.add(t.label)
        if isinstance(t, RuleTarget):
            blocks.append(format_rule(t))
        elif isinstance(t, PackageGroup):
            blocks.append(format_package_group(t))
    # Bazel ends every rule with an empty line.
    return "".join(b + "\n" for b in blocks)
