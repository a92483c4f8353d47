"""Expansion of Bazel "Make" variables and location functions.

Bazel expands the same small template language in a genrule's `cmd` and in the
`args`/`env` attributes of binaries and tests. This module does that expansion
for kiln, as a pure function: the caller supplies what the rule's prerequisites
expand to and which variables exist; nothing here touches the file system.

The language, as Bazel's TemplateExpander and LocationExpander define it:

* `$$` is a literal `$` (how a shell variable is written: `$$HOME`).
* `$(NAME)` is a variable from `variables`; an unknown name is an error
  "$(NAME) not defined". A variable's value is itself expanded (Make's `:=`),
  unless the value is the name itself; a reference cycle is an error.
* `$@`, `$<` and `$^` are one-character spellings of `$(@)`, `$(<)`, `$(^)`.
  They exist only when the caller puts `@`, `<`, `^` in `variables`. A caller
  that knows why one is missing (a genrule with two outputs has no `$@`) maps
  the name to `NotAvailable(reason)`, and using it fails with that reason;
  `genrule_variables` does this for `$@` and `$<`.
* `$(FUNC LABEL)` - the text after the first space, trimmed, is a label -
  where FUNC is one of location(s), execpath(s), rootpath(s),
  rlocationpath(s). The label is read relative to the rule's package and must
  be one of `locations`' keys. Singular forms need exactly one file; plural
  forms join the files with single spaces. Paths are de-duplicated and sorted
  (Bazel collects them in a sorted set), made "callable" (a one-segment path
  gets a `./` prefix, so a shell never searches PATH for it) and shell-quoted
  when they hold characters a shell would interpret (Bazel's ShellEscaper), so
  a path with a space stays one word in `cmd` and in tokenized `args`.
  `$(location)` means `$(execpath)` in genrule-like attributes and
  `$(rootpath)` in `args`/`env` of binaries and tests: the caller says which.
* Any other `$x` is an error, because Bazel refuses to guess whether `$HOME`
  was meant for the shell (`$$HOME`) or for Make (`$(HOME)`); so is `${x}`.
  There is no nesting: `$(` runs to the first `)`, and a missing `)` is an
  error.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

from kiln.core.errors import AnalysisError, LabelError, Location
from kiln.core.labels import Label, PackageId, parse_label

LocationMeaning = Literal["execpath", "rootpath"]

# Function name -> (which paths, plural). `None` means "what $(location) means
# for this attribute", decided by the caller.
_FUNCTIONS: dict[str, tuple[str | None, bool]] = {
    "location": (None, False),
    "locations": (None, True),
    "execpath": ("execpath", False),
    "execpaths": ("execpath", True),
    "rootpath": ("rootpath", False),
    "rootpaths": ("rootpath", True),
    "rlocationpath": ("rlocationpath", False),
    "rlocationpaths": ("rlocationpath", True),
}

# Bazel names at most this many files when a singular form gets several.
_MAX_PATHS_SHOWN = 5

# Characters Bazel's ShellEscaper leaves unquoted; `~` is also safe except at
# the start, where the shell would expand it to a home directory.
_SHELL_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%-_+:,./"
)


@dataclass(frozen=True)
class PathsOf:
    """What one prerequisite label's files are called, in each of the three forms.

    exec_paths: relative to the exec root ("pkg/a.txt",
        "kiln-out/k8-fastbuild/bin/pkg/gen.txt", "external/repo/pkg/a.txt").
    root_paths: runfiles-relative short paths ("pkg/a.txt"; a file of an
        external repo is "../repo/pkg/a.txt").
    rlocation_paths: keys for a runfiles library ("_main/pkg/a.txt",
        "repo/pkg/a.txt").
    """

    exec_paths: tuple[str, ...]
    root_paths: tuple[str, ...]
    rlocation_paths: tuple[str, ...]


@dataclass(frozen=True)
class NotAvailable:
    """A variable value meaning "this name exists but cannot be used here".

    Lets the caller explain *why* (`$@` with two outputs) instead of the bare
    "$(@) not defined" an absent name gives.
    """

    reason: str


class MakeVarError(AnalysisError):
    """A template in an attribute could not be expanded.

    Renders as "in ATTR attribute: EXPRESSION: REASON"; the caller adds the
    file location and target.
    """

    def __init__(
        self,
        attribute: str,
        expression: str,
        reason: str,
        *,
        location: Location | None = None,
        target: str | None = None,
    ):
        super().__init__(f"in {attribute} attribute: {expression}: {reason}", location=location, target=target)
        self.attribute = attribute
        self.expression = expression
        self.reason = reason


class _Problem(Exception):
    """Internal: an error found at `expression`, before the attribute is known
    to the message. `via` is the chain of variables whose values were being
    expanded when it happened (empty at the top level)."""

    def __init__(self, expression: str, reason: str, via: tuple[str, ...] = ()):
        super().__init__(reason)
        self.expression = expression
        self.reason = reason
        self.via = via


def expand(
    template: str,
    *,
    package: PackageId,
    attribute: str,
    locations: Mapping[Label, PathsOf],
    variables: Mapping[str, str | NotAvailable],
    location_means: LocationMeaning,
    repo_mapping: Mapping[str, str] | None = None,
) -> str:
    """Expands `template` as Bazel expands attribute `attribute` of a rule in `package`.

    `locations` holds the rule's declared prerequisites (srcs, tools, data,
    outs, ...) keyed by canonical label; `variables` the plain variables.
    `location_means` is "execpath" for genrule-like commands and "rootpath"
    for `args`/`env` of binaries and tests. Raises MakeVarError.
    """
    if location_means not in ("execpath", "rootpath"):
        raise ValueError(f"location_means must be 'execpath' or 'rootpath', not {location_means!r}")
    if "$" not in template:
        return template
    expander = _Expander(package, locations, variables, location_means, repo_mapping)
    try:
        return expander.expand(template, ())
    except _Problem as problem:
        raise _to_error(attribute, problem) from None


def _to_error(attribute: str, problem: _Problem) -> MakeVarError:
    if not problem.via:
        return MakeVarError(attribute, problem.expression, problem.reason)
    # The user wrote only the outermost reference; say how the inner one was
    # reached so that a bad --define value can be traced.
    chain = " -> ".join(f"$({name})" for name in problem.via)
    return MakeVarError(
        attribute,
        f"$({problem.via[0]})",
        f"in the value of {chain}: {problem.expression}: {problem.reason}",
    )


class _Expander:
    def __init__(
        self,
        package: PackageId,
        locations: Mapping[Label, PathsOf],
        variables: Mapping[str, str | NotAvailable],
        location_means: LocationMeaning,
        repo_mapping: Mapping[str, str] | None,
    ):
        self.package = package
        self.locations = locations
        self.variables = variables
        self.location_means = location_means
        self.repo_mapping = repo_mapping

    def expand(self, text: str, via: tuple[str, ...]) -> str:
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            dollar = text.find("$", i)
            if dollar < 0:
                out.append(text[i:])
                break
            out.append(text[i:dollar])
            if dollar + 1 == n:
                raise _Problem("$", "unterminated '$' at the end; write '$$' for a literal '$'", via)
            c = text[dollar + 1]
            if c == "$":
                out.append("$")
                i = dollar + 2
            elif c == "(":
                close = text.find(")", dollar + 2)
                if close < 0:
                    raise _Problem(
                        _clip(text[dollar:]), "unterminated $( reference: there is no closing ')'", via
                    )
                expression = text[dollar : close + 1]
                body = text[dollar + 2 : close]
                if "$(" in body:
                    # Bazel would read "location $(FOO" as a label and fail
                    # obscurely; say what is actually wrong.
                    raise _Problem(expression, "nested $(...) references are not supported", via)
                out.append(self._reference(body, expression, via))
                i = close + 1
            elif c in "@<^":
                out.append(self._variable(c, f"${c}", via))
                i = dollar + 2
            elif c == "{":
                close = text.find("}", dollar + 2)
                if close < 0:
                    raise _Problem(_clip(text[dollar:]), "unterminated ${ reference: there is no closing '}'", via)
                name = text[dollar + 2 : close]
                raise _Problem(
                    text[dollar : close + 1],
                    f"'${{{name}}}' syntax is not supported; write '$${{{name}}}' for a shell variable, "
                    f"or '$({name})' for a \"Make\" variable",
                    via,
                )
            else:
                raise self._bare_dollar(text, dollar, via)
        return "".join(out)

    @staticmethod
    def _bare_dollar(text: str, dollar: int, via: tuple[str, ...]) -> _Problem:
        end = dollar + 1
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        if end == dollar + 1:
            # `$ `, `$'`, ...: not a name, so only the `$$` advice applies.
            shown = text[dollar : dollar + 2]
            return _Problem(shown, f"'{shown}' is not supported; write '$$' for a literal '$'", via)
        name = text[dollar + 1 : end]
        return _Problem(
            f"${name}",
            f"'${name}' syntax is not supported; write '$${name}' for a shell variable, "
            f"or '$({name})' for a \"Make\" variable",
            via,
        )

    def _reference(self, body: str, expression: str, via: tuple[str, ...]) -> str:
        # Bazel splits at the first plain space only: `$(location  :a)` is a
        # function call, `$(FOO)` a variable.
        space = body.find(" ")
        if space < 0:
            return self._variable(body, expression, via)
        name, argument = body[:space], body[space + 1 :].strip()
        if name not in _FUNCTIONS:
            known = ", ".join(_FUNCTIONS)
            raise _Problem(expression, f"$({name}) not defined (the known functions are {known})", via)
        return self._location(name, argument, expression, via)

    def _variable(self, name: str, expression: str, via: tuple[str, ...]) -> str:
        value = self.variables.get(name)
        if value is None:
            raise _Problem(expression, f"$({name}) not defined", via)
        if isinstance(value, NotAvailable):
            raise _Problem(expression, value.reason, via)
        # A value equal to its own name is left alone, as Bazel does, so that a
        # variable deliberately defined as itself does not loop.
        if value == name or "$" not in value:
            return value
        if name in via:
            chain = " -> ".join(f"$({v})" for v in (*via, name))
            raise _Problem(expression, f"variable refers to itself: {chain}", via)
        return self.expand(value, (*via, name))

    def _location(self, func: str, argument: str, expression: str, via: tuple[str, ...]) -> str:
        kind, plural = _FUNCTIONS[func]
        kind = kind or self.location_means
        shown = f"$({func})"
        try:
            label = parse_label(argument, base=self.package, repo_mapping=self.repo_mapping)
        except LabelError as e:
            raise _Problem(expression, f"invalid label in {shown} expression: {e.message}", via) from None
        paths_of = self.locations.get(label)
        if paths_of is None:
            raise _Problem(
                expression, f"label '{label}' in {shown} expression is not a declared prerequisite of this rule", via
            )
        if kind == "execpath":
            raw = paths_of.exec_paths
        elif kind == "rootpath":
            raw = paths_of.root_paths
        else:
            raw = paths_of.rlocation_paths
        paths = sorted({_callable(p) for p in raw})
        if not paths:
            raise _Problem(expression, f"label '{label}' in {shown} expression expands to no files", via)
        if not plural and len(paths) > 1:
            listed = ", ".join(paths[:_MAX_PATHS_SHOWN])
            more = f" (and {len(paths) - _MAX_PATHS_SHOWN} more)" if len(paths) > _MAX_PATHS_SHOWN else ""
            raise _Problem(
                expression,
                f"label '{label}' in {shown} expression expands to more than one file, "
                f"please use $({func}s {label}) instead. Files are: {listed}{more}",
                via,
            )
        return " ".join(_shell_quote(p) for p in paths)


def _callable(path: str) -> str:
    # Bazel's getCallablePathString: "tool" would be looked up on PATH by a
    # shell, "./tool" is unambiguously the file.
    if path == "":
        return "."
    if "/" in path:
        return path
    return "./" + path


def _shell_quote(word: str) -> str:
    """Quotes `word` for a POSIX shell only when needed, as Bazel's ShellEscaper does."""
    if word == "":
        return "''"
    if all(c in _SHELL_SAFE for c in word):
        return word
    if not word.startswith("~") and all(c in _SHELL_SAFE or c == "~" for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def _clip(text: str, limit: int = 40) -> str:
    # An unterminated reference runs to the end of a possibly long command.
    return text if len(text) <= limit else text[:limit] + "..."


def package_output_dir(bin_dir: str, package: PackageId) -> str:
    """The directory under `bin_dir` where the rules of `package` write (Bazel's $(RULEDIR)).

    Files of external repositories live under `external/<canonical name>`,
    in the output tree as in the source tree.
    """
    parts = [bin_dir]
    if package.repo:
        parts += ["external", package.repo]
    if package.package:
        parts.append(package.package)
    return posixpath.join(*parts)


def genrule_variables(
    srcs_exec_paths: Iterable[str],
    outs_exec_paths: Iterable[str],
    *,
    package: PackageId,
    bin_dir: str,
    gen_dir: str,
    compilation_mode: str,
    target_cpu: str,
) -> dict[str, str | NotAvailable]:
    """The variables Bazel defines for a genrule's `cmd`.

    SRCS and OUTS are the files' exec paths joined by spaces (duplicates
    dropped, order kept). `$@` / `$<` exist only with exactly one output /
    source file; otherwise they are NotAvailable with Bazel's explanation.
    `$(@D)` is the one output's directory, or with several outputs the
    package's output directory, even if all outputs share a subdirectory.
    """
    srcs = list(dict.fromkeys(srcs_exec_paths))
    outs = list(dict.fromkeys(outs_exec_paths))
    rule_dir = package_output_dir(bin_dir, package)
    variables: dict[str, str | NotAvailable] = {
        "SRCS": " ".join(srcs),
        "OUTS": " ".join(outs),
        "RULEDIR": rule_dir,
        "BINDIR": bin_dir,
        "GENDIR": gen_dir,
        "COMPILATION_MODE": compilation_mode,
        "TARGET_CPU": target_cpu,
        "@": _singleton(outs, "$@", "output file", "outs", "$(OUTS)"),
        "<": _singleton(srcs, "$<", "input file", "srcs", "$(SRCS)"),
        "@D": posixpath.dirname(outs[0]) if len(outs) == 1 else rule_dir,
    }
    return variables


def _singleton(files: list[str], variable: str, what: str, attribute: str, plural: str) -> str | NotAvailable:
    if len(files) == 1:
        return files[0]
    if not files:
        return NotAvailable(f"variable '{variable}' : no {what} ({attribute} is empty)")
    return NotAvailable(
        f"variable '{variable}' : more than one {what} ({attribute} has {len(files)} files; use {plural})"
    )
