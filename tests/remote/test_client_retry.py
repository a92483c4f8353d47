"""The retry policy itself: how many retries, how long between them, which failures."""

from __future__ import annotations

import grpc
import pytest
from kiln.execution.remote_client.retry import Backoff, with_retries


class Failure(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode):
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


def test_delays_grow_exponentially_with_jitter_and_are_capped():
    delays = list(Backoff(retries=8, initial_s=0.1, max_s=2.0).delays())
    assert len(delays) == 8
    for attempt, delay in enumerate(delays):
        ceiling = min(2.0, 0.1 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_a_call_is_tried_once_more_than_its_retries_then_its_failure_raised():
    calls, slept = [], []

    def failing():
        calls.append(1)
        raise Failure(grpc.StatusCode.RESOURCE_EXHAUSTED)

    with pytest.raises(Failure):
        with_retries(failing, Backoff(retries=3), sleep=slept.append)
    assert len(calls) == 4
    assert len(slept) == 3


def test_a_failure_that_does_not_pass_is_raised_at_once():
    slept = []

    def failing():
        raise Failure(grpc.StatusCode.PERMISSION_DENIED)

    with pytest.raises(Failure):
        with_retries(failing, Backoff(retries=3), sleep=slept.append)
    assert slept == []
