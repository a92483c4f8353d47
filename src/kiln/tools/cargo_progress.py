"""cargo's progress bar, read out of its stderr and handed to kiln's live display.

cargo_build runs cargo with `term.progress.when = "always"`, so cargo draws its
bar on stderr even though stderr is a pipe: `[=====>    ] 12/45: rayon, syn`
segments each ended by a carriage return, between the diagnostics it renders.
`CargoStderr` splits the stream: diagnostics pass on unchanged (the action's
output is the same as without the bar) and each bar becomes a `Progress`.
`ProgressChannel` writes it as one line to the descriptor the executor named in
KILN_PROGRESS_FD (kiln.execution.local_executor), if it named one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable

# cargo's config for the bar: drawn always, at a width that leaves room for the crates' names.
CARGO_CONFIG = ("--config", "term.progress.when='always'", "--config", "term.progress.width=100")
# kiln.core.actions.PROGRESS_FD_ENV: an action tool imports nothing of kiln but its own tools.
PROGRESS_FD_ENV = "KILN_PROGRESS_FD"
_BAR = re.compile(r"^\s*\[[=> ]*\] (\d+)/(\d+)(?:: (.*?))?\s*$")
# A segment longer than this is not a bar: pass it on rather than hold it.
_MAX_PENDING = 1 << 16


@dataclass(frozen=True)
class Progress:
    """cargo's count of its units done and in all: each crate, and each build script's compilation and run."""

    done: int
    total: int
    # What cargo is compiling now, as it names them (a long list ends with "…").
    building: str = ""

    def line(self) -> str:
        return f"{self.done}/{self.total} crates" + (f": {self.building}" if self.building else "")


class CargoStderr:
    """Feeds of cargo's stderr in, diagnostics and progress out (in the order they came)."""

    def __init__(self, text: Callable[[str], None], progress: Callable[[Progress], None]):
        self._text = text
        self._progress = progress
        self._pending = ""

    def feed(self, chunk: str) -> None:
        data = self._pending + chunk
        start = 0
        for m in re.finditer(r"[\r\n]", data):
            self._segment(data[start:m.start()], m.group(0))
            start = m.end()
        self._pending = data[start:]
        if len(self._pending) > _MAX_PENDING:
            self._text(self._pending)
            self._pending = ""

    def close(self) -> None:
        if self._pending:
            self._segment(self._pending, "")
            self._pending = ""

    def _segment(self, segment: str, end: str) -> None:
        bar = _BAR.match(segment)
        if bar:
            self._progress(Progress(int(bar.group(1)), int(bar.group(2)), bar.group(3) or ""))
        elif segment.strip() or end == "\n":
            self._text(segment + end)


class ProgressChannel:
    """Where progress goes: the descriptor in KILN_PROGRESS_FD, or nowhere (no one is watching)."""

    def __init__(self, environ: dict[str, str] | os._Environ = os.environ):
        value = environ.get(PROGRESS_FD_ENV, "")
        self._fd = int(value) if value.isdigit() else None

    def send(self, progress: Progress) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, (progress.line() + "\n").encode("utf-8", "replace"))
        except OSError:
            self._fd = None  # the reader is gone: the build goes on without the display
