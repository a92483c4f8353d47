"""What evaluating MODULE.bazel and WORKSPACE share: errors at the user's line, registrations, refusals."""

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


class Recorder:
    def __init__(self) -> None:
        self.pending: KilnError | None = None

    def guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except KilnError as e:
                self.pending = e
                raise

        return wrapper

    def run(self, path: Path, display: str, module: Any, loader: Any = None, *, text: str | None = None,
            prelude: str | None = None, parse: Callable[[str, str], Any] = sl.parse) -> None:
        source = read_source(path, display) if text is None else text
        try:
            if prelude is not None:
                sl.eval(module, sl.parse(PRELUDE_NAME, prelude), GLOBALS)
            ast = parse(display, source)
            sl.eval(module, ast, GLOBALS, loader)
        except sl.StarlarkError as e:
            err = to_kiln_error(str(e), self.pending, source)
            _relocate_prelude_error(err, str(e), source)
            raise err from None


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


def check_registered_repos(info: ModuleInfo, file: str, visible: Callable[[str], bool]) -> None:
    """Each registration of `file` names a repository the file can see (checked once all of it is read)."""
    for fn, registrations in (("register_toolchains", info.toolchains),
                              ("register_execution_platforms", info.execution_platforms)):
        for r in registrations:
            repo = parse_pattern(r.pattern).repo
            if r.location.file == file and not visible(repo):
                raise LoadingError(f"{fn}(\"{r.pattern}\"): no repository '@{repo}' is visible from {file}",
                                   location=r.location)


def unsupported(what: str, file: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise LoadingError(f"kiln does not support {what} in {file} yet")

    return fail
