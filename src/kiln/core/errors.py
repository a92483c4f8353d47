"""User-facing errors and Bazel's exit codes.

A user error is a value carrying where it was written (file:line:col) and which
target it concerns; the CLI renders it as one message, never a traceback.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    SUCCESS = 0
    BUILD_FAILURE = 1
    COMMAND_LINE_ERROR = 2
    TESTS_FAILED = 3
    NO_TESTS_FOUND = 4
    INTERRUPTED = 8
    LOCK_HELD_NOBLOCK_FOR_LOCK = 9
    LOCAL_ENVIRONMENT_ERROR = 36
    INTERNAL_ERROR = 37


@dataclass(frozen=True)
class Location:
    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line and self.column:
            return f"{self.file}:{self.line}:{self.column}"
        if self.line:
            return f"{self.file}:{self.line}"
        return self.file


class KilnError(Exception):
    """An error caused by the user's input: shown as one message."""

    exit_code = ExitCode.BUILD_FAILURE

    def __init__(self, message: str, *, location: Location | None = None, target: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.target = target

    def render(self) -> str:
        prefix = ""
        if self.location is not None:
            prefix += f"{self.location}: "
        if self.target:
            prefix += f"in {self.target}: "
        return prefix + self.message


class LabelError(KilnError):
    """A malformed label or target pattern."""


class CommandLineError(KilnError):
    exit_code = ExitCode.COMMAND_LINE_ERROR


class LoadingError(KilnError):
    """A problem found while evaluating BUILD, .bzl or MODULE files."""


class AnalysisError(KilnError):
    """A problem found while configuring targets (missing deps, visibility, selects)."""


class LocalEnvironmentError(KilnError):
    exit_code = ExitCode.LOCAL_ENVIRONMENT_ERROR
