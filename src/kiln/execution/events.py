"""Build events: what the scheduler, test runner and commands report.

The terminal UI and --explain subscribe to these; nothing here prints.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Message:
    level: str  # "INFO" | "WARNING" | "ERROR" | "DEBUG"
    text: str


@dataclass(frozen=True)
class AnalysisFinished:
    targets: int
    packages: int
    actions: int


@dataclass(frozen=True)
class ActionStarted:
    action_id: int
    mnemonic: str
    progress_message: str


@dataclass(frozen=True)
class ActionProgress:
    """A running action's own account of how far it is (cargo's "12/45: syn")."""

    action_id: int
    progress: str


@dataclass(frozen=True)
class ActionFinished:
    action_id: int
    mnemonic: str
    progress_message: str
    cached: bool      # served from the action cache
    ok: bool
    seconds: float
    # Why it was not a cache hit (for --explain); empty when cached.
    explanation: str = ""


@dataclass(frozen=True)
class ActionFailed:
    action_id: int
    owner: str
    mnemonic: str
    message: str  # the error, then the command and its output


@dataclass(frozen=True)
class TestFinished:
    label: str
    status: str  # "PASSED" | "FAILED" | "TIMEOUT" | "NO STATUS" | "FAILED TO BUILD"
    cached: bool
    seconds: float
    log_path: str
    # The test's output, shown per --test_output.
    output: str = ""


@dataclass(frozen=True)
class BuildFinished:
    success: bool
    targets: int
    actions_executed: int
    actions_cached: int
    seconds: float
    # Paths of the top-level outputs to show, per target label.
    outputs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Targets skipped as incompatible with the target platform.
    skipped: tuple[str, ...] = ()


Event = (
    Message | AnalysisFinished | ActionStarted | ActionProgress | ActionFinished | ActionFailed
    | TestFinished | BuildFinished
)


@dataclass
class EventBus:
    """Delivers events to subscribers; safe to post from worker threads."""

    _subscribers: list[Callable[[Event], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self._subscribers.append(fn)

    def post(self, event: Event) -> None:
        with self._lock:
            for fn in self._subscribers:
                fn(event)

    def info(self, text: str) -> None:
        self.post(Message("INFO", text))

    def warning(self, text: str) -> None:
        self.post(Message("WARNING", text))

    def error(self, text: str) -> None:
        self.post(Message("ERROR", text))
