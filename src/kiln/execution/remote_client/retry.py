"""Retries of remote calls that failed for a reason that passes (UNAVAILABLE, RESOURCE_EXHAUSTED),
with exponential backoff, jittered so that many clients do not retry in step, and bounded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import grpc

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    retries: int
    initial_s: float = 0.1
    max_s: float = 5.0

    def delays(self) -> Iterator[float]:
        for attempt in range(self.retries):
            yield min(self.max_s, self.initial_s * 2**attempt) * random.uniform(0.5, 1.0)


def is_retryable(error: grpc.RpcError) -> bool:
    return error.code() in RETRYABLE


def with_retries(call: Callable[[], T], backoff: Backoff, sleep: Callable[[float], None] = time.sleep) -> T:
    """call(), again after each delay while it fails with a retryable code; the last failure is raised."""
    delays = backoff.delays()
    while True:
        try:
            return call()
        except grpc.RpcError as error:
            delay = next(delays, None) if is_retryable(error) else None
            if delay is None:
                raise
            sleep(delay)
