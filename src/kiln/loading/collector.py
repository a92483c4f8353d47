"""Pausing Python's cyclic garbage collector while loading and analysis build their graphs.

Loading and analysis allocate millions of objects that live until the command
ends, and they make no reference cycles (tests/unit/test_collector.py keeps it
so); reference counting frees everything else. The cyclic collector would
only rescan the growing graph again and again: about a third of a full
re-analysis at 20,000 packages.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def collector_paused() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
