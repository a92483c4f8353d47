"""What evaluating MODULE.bazel and WORKSPACE share: errors at the user's line, registrations, refusals.

Errors are reported as many per run as evaluation allows: a builtin whose result nothing needs (a tag, a
repository rule, a registration) records a located error and returns None, so evaluation goes on past it;
a builtin whose value the file uses raises, and Starlark stops there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import starlark as sl

from kiln.core.errors import KilnError, LabelError, LoadingError, Location
from kiln.core.patterns import parse_pattern
from kiln.loading.call_sites import CallSites
from kiln.loading.module_info import ModuleInfo, Registration
from kiln.loading.source_files import read_source
from kiln.loading.starlark_errors import call_frames, parse_location, to_kiln_error

GLOBALS = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Json])

# Modules whose names Bazel users depend on that kiln needs nothing from.
HARMLESS_MODULES = frozenset({"rules_cc", "rules_license", "rules_shell", "rules_pkg", "protobuf", "rules_proto"})

PRELUDE_NAME = "<kiln MODULE.bazel prelude>"


class LoadingErrors(LoadingError):
    """Several errors found in one evaluation, each shown as its own ERROR line."""

    def __init__(self, errors: list[KilnError]):
        super().__init__(errors[0].message, location=errors[0].location)
        self.errors = errors

    def render(self) -> str:
        return "\nERROR: ".join(e.render() for e in self.errors)


def raise_all(errors: list[KilnError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise LoadingErrors(errors)


class Recorder:
    """The errors of one evaluation: the builtin error Starlark is stopping on, and those recorded."""

    def __init__(self) -> None:
        self.pending: KilnError | None = None
        self.errors: list[KilnError] = []

    def guard(self, fn: Callable[..., Any], *, returns: bool = False) -> Callable[..., Any]:
        """`fn` as a builtin: its located errors are recorded and evaluation goes on, unless the file uses
        what it returns (`returns`) or the error has no location (Starlark's traceback then gives one)."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except KilnError as e:
                if returns or e.location is None:
                    self.pending = e
                    raise
                self.errors.append(e)
                return None

        return wrapper

    def stopped(self, e: sl.StarlarkError, source: str) -> KilnError:
        """The error Starlark stopped on, recorded after the others."""
        err = to_kiln_error(str(e), self.pending, source)
        self.pending = None
        self.errors.append(err)
        return err

    def run(self, path: Path, display: str, module: Any, loader: Any = None, *, text: str | None = None,
            prelude: str | None = None, parse: Callable[[str, str], Any] = sl.parse) -> None:
        """Evaluates the file, recording its errors (finish() raises them)."""
        source = read_source(path, display) if text is None else text
        try:
            if prelude is not None:
                sl.eval(module, sl.parse(PRELUDE_NAME, prelude), GLOBALS)
            ast = parse(display, source)
            sl.eval(module, ast, GLOBALS, loader)
        except sl.StarlarkError as e:
            _relocate_prelude_error(self.stopped(e, source), str(e), source)

    def finish(self) -> None:
        raise_all(self.errors)


def _relocate_prelude_error(err: KilnError, text: str, source: str) -> None:
    """An error inside the prelude's use_extension/use_repo/tag wrappers is the error of the user's call."""
    arrow = parse_location(text)
    if arrow is None or arrow.file != PRELUDE_NAME:
        return
    user = [f for f in call_frames(text) if f[0] != PRELUDE_NAME]
    if not user:
        return
    file, line, _ = user[-1]
    suffix = f" (called from {user[0][0]}:{user[0][1]})"
    if err.message.endswith(suffix):
        err.message = err.message[: -len(suffix)]
    if err.location is None or err.location.file == PRELUDE_NAME:
        lines = source.splitlines()
        column = 0
        if 0 < line <= len(lines):
            text_line = lines[line - 1]
            column = len(text_line) - len(text_line.lstrip()) + 1
        err.location = Location(file, line, column)


def registrar(fn: str, file: str, sites: CallSites, into: list[Registration], *, dev: bool) -> Callable[..., None]:
    """register_toolchains / register_execution_platforms: patterns recorded with their line."""

    def register(*patterns: Any, **kwargs: Any) -> None:
        line, column = sites.call(fn)
        where = Location(file, line, column)
        extra = set(kwargs) - ({"dev_dependency"} if dev else set())
        if extra:
            raise LoadingError(f"{fn}() got an unexpected keyword argument '{sorted(extra)[0]}'", location=where)
        dev_dependency = kwargs.get("dev_dependency", False)
        if not isinstance(dev_dependency, bool):
            raise LoadingError(f"{fn}(): dev_dependency must be a bool", location=where)
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise LoadingError(f"{fn}() takes target patterns as strings, got {pattern!r}", location=where)
            try:
                parse_pattern(pattern)
            except LabelError as e:
                raise LoadingError(f"{fn}(\"{pattern}\"): {e.message}", location=where) from None
            into.append(Registration(pattern, where, dev_dependency))

    return register


def check_registered_repos(info: ModuleInfo, files: tuple[str, ...], visible: Callable[[str], bool]) -> None:
    """Each registration made in `files` names a repository they can see (checked once all are read)."""
    errors: list[KilnError] = []
    for fn, registrations in (("register_toolchains", info.toolchains),
                              ("register_execution_platforms", info.execution_platforms)):
        for r in registrations:
            repo = parse_pattern(r.pattern).repo
            if r.location.file in files and not visible(repo):
                errors.append(LoadingError(f"{fn}(\"{r.pattern}\"): no repository '@{repo}' is visible from "
                                           f"{r.location.file}", location=r.location))
    raise_all(errors)


def unsupported(what: str, file: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise LoadingError(f"kiln does not support {what} in {file} yet")

    return fail
