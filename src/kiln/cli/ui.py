"""The terminal: a live progress display on a TTY, plain lines otherwise.

Subscribes to build events. Messages and results go to stderr, as Bazel
does, so a program's own output (`kiln run`) stays clean on stdout. rich is
loaded only for a terminal: plain output is written directly, which keeps a
no-op build's start-up short.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from typing import Any

from kiln.execution import events as ev

# A line is a sequence of (text, style) segments; styles only matter on a terminal.
Segment = tuple[str, str | None]

_STATUS_STYLE = {"PASSED": "green", "FLAKY": "yellow", "FAILED": "red", "TIMEOUT": "red", "NO STATUS": "yellow", "FAILED TO BUILD": "red",
                 "SKIPPED": "yellow"}


# The most of an action's own progress text the live line shows.
_PROGRESS_WIDTH = 32


class Reporter:
    def __init__(self, *, stream: TextIO | None = None, live: bool | None = None, color: bool | None = None,
                 explain: TextIO | None = None, test_output: str = "summary"):
        self.stream = stream or sys.stderr
        tty = self.stream.isatty()
        self.live_enabled = tty if live is None else live
        self.console: Any = None
        if tty or color or self.live_enabled:
            from rich.console import Console

            self.console = Console(file=self.stream, force_terminal=color if color is not None else None,
                                   no_color=color is False, highlight=False, soft_wrap=True)
        self.explain = explain
        self.test_output = test_output
        self.started = time.monotonic()
        self.running: dict[int, str] = {}
        # What running actions report of their own progress (cargo's crates), by action id.
        self.progress: dict[int, str] = {}
        self.done = 0
        self.cached = 0
        self.total = 0
        self._lock = threading.RLock()
        self._live: Any = None

    # ---- lifecycle -------------------------------------------------------

    def start_live(self) -> None:
        if self.live_enabled and self._live is None and self.console is not None:
            from rich.live import Live

            self._live = Live(_Status(self), console=self.console, refresh_per_second=8, transient=True)
            self._live.start()

    def stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render(self) -> Any:
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        head = f"[{self.done:,} / {max(self.total, self.done):,}] "
        if self.cached:
            head += f"{self.cached:,} from cache; "
        # Copies (made whole under the GIL): events change these on other threads while the display draws.
        running, progress = dict(self.running), dict(self.progress)
        if running:
            # An action that says how far it is tells more than a timer: show it first.
            shown = next((i for i in running if i in progress), next(iter(running)))
            head += f"{len(running)} running: " + running[shown]
            if shown in progress:
                # cargo names what it compiles at length: keep the timer on the line.
                text = progress[shown]
                head += f" ({text if len(text) <= _PROGRESS_WIDTH else text[:_PROGRESS_WIDTH - 1] + '…'})"
            if len(running) > 1:
                head += f" (+{len(running) - 1} more)"
        else:
            head += "idle"
        return Text(f"{head}  {elapsed:.1f}s", style="dim")

    def _print(self, *segments: Segment | str) -> None:
        parts = [(s, None) if isinstance(s, str) else s for s in segments]
        with self._lock:
            if self.console is None:
                self.stream.write("".join(t for t, _ in parts) + "\n")
                self.stream.flush()
                return
            from rich.text import Text

            line = Text()
            for text, style in parts:
                line.append(text, style=style)
            self.console.print(line)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    # ---- events ----------------------------------------------------------

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.Message):
            style = {"ERROR": "bold red", "WARNING": "yellow", "DEBUG": "cyan", "SUBCOMMAND": "blue"}.get(event.level)
            self._print((f"{event.level}: ", style or "green"), event.text)
        elif isinstance(event, ev.AnalysisFinished):
            self.total = event.actions
            self._print(("INFO: ", "green"),
                        f"Analyzed {event.targets} target{'s' if event.targets != 1 else ''} "
                        f"({event.packages} package{'s' if event.packages != 1 else ''} loaded).")
            self.start_live()
        elif isinstance(event, ev.ActionStarted):
            self.running[event.action_id] = event.progress_message
            self._refresh()
        elif isinstance(event, ev.ActionProgress):
            # Shown at the display's next refresh: progress may come faster than it is worth drawing.
            self.progress[event.action_id] = event.progress
        elif isinstance(event, ev.ActionFinished):
            self.running.pop(event.action_id, None)
            self.progress.pop(event.action_id, None)
            self.done += 1
            if event.cached:
                self.cached += 1
            elif self.explain is not None and event.explanation:
                self.explain.write(f"Executing action '{event.progress_message}': {event.explanation}\n")
            self._refresh()
        elif isinstance(event, ev.ActionFailed):
            self.running.pop(event.action_id, None)
            self.progress.pop(event.action_id, None)
            self._print(("ERROR: ", "bold red"), event.message)
            self._refresh()
        elif isinstance(event, ev.TestFinished):
            self._test_line(event)
        elif isinstance(event, ev.BuildFinished):
            self.stop_live()
            self._summary(event)

    def _test_line(self, event: ev.TestFinished) -> None:
        show = self.test_output == "all" or (self.test_output == "errors" and event.status != "PASSED")
        if show and event.output:
            self._print(f"==================== Test output for {event.label}:")
            self._print(event.output.rstrip())
            self._print("=" * 80)

    def report_tests(self, results: list[ev.TestFinished]) -> None:
        if not results:
            return
        width = max(len(r.label) for r in results) + 2
        for r in sorted(results, key=lambda r: r.label):
            cached = "(cached) " if r.cached else ""
            took = f" in {r.seconds:.1f}s" if r.status not in ("FAILED TO BUILD", "SKIPPED") else ""
            style = _STATUS_STYLE.get(r.status.split(",")[0].split(" in ")[0])
            self._print(r.label.ljust(width), (f"{cached}{r.status}", style), took)
            if r.status not in ("PASSED", "FAILED TO BUILD", "SKIPPED"):
                self._print(f"  {r.log_path}")
        # A flaky test passed in the end.
        passed = sum(r.status == "PASSED" or r.status.startswith("FLAKY") for r in results)
        skipped = sum(r.status == "SKIPPED" for r in results)
        failed = len(results) - passed - skipped
        total = len(results)
        ran = sum(not r.cached and r.status != "SKIPPED" for r in results)
        summary = f"Executed {ran} out of {total} test{'s' if total != 1 else ''}: "
        summary += f"{passed} test{' passes' if passed == 1 else 's pass'}"
        if failed:
            summary += f" and {failed} fail{'s' if failed == 1 else ''} locally"
        if skipped:
            summary += f" and {skipped} {'was' if skipped == 1 else 'were'} skipped"
        self._print((summary + ".", "green" if not failed else "red"))

    def _summary(self, event: ev.BuildFinished) -> None:
        for label, paths in event.outputs:
            self._print(f"Target {label} up-to-date:")
            for p in paths:
                self._print(f"  {p}")
        for label in event.skipped:
            self._print(f"Target {label} was skipped")
        word = "successfully" if event.success else "with errors"
        style = "green" if event.success else "bold red"
        self._print(("INFO: " if event.success else "ERROR: ", style),
                    f"Build completed {word}: {event.targets} target{'s' if event.targets != 1 else ''}, "
                    f"{event.actions_executed} action{'s' if event.actions_executed != 1 else ''} executed, "
                    f"{event.actions_cached} from cache, {event.seconds:.2f}s elapsed")


class _Status:
    """Re-rendered on every refresh, so the elapsed time moves while actions run."""

    def __init__(self, reporter: Reporter):
        self.reporter = reporter

    def __rich__(self) -> Any:
        return self.reporter._render()
