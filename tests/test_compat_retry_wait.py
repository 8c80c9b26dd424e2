"""@retry's wait: none for a step on this machine, minutes_between_retries for a step on a
remote backend (where it spares shared services a retry storm)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from flowlib import FlowSpec, step
from flowlib.decorators import BatchDecorator, RetryDecorator
from flowlib.graph import FlowGraph
from flowlib.runtime.console import Console
from flowlib.runtime.scheduler import Scheduler
from flowlib.runtime.spec import TaskSpec


class TwoStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.mark.parametrize(("remote", "expected_wait"), [(False, 0.0), (True, 120.0)])
def test_retry_waits_only_on_remote_backends(remote, expected_wait):
    decorators = {"retry": RetryDecorator(times=1)}  # default minutes_between_retries=2
    if remote:
        decorators["batch"] = BatchDecorator()
    scheduler = Scheduler(
        FlowGraph(TwoStepFlow),
        SimpleNamespace(metadata=None),
        "TwoStepFlow",
        "1",
        launcher=None,
        console=Console(quiet=True),
        decorators={"start": decorators, "end": {}},
    )
    spec = TaskSpec("TwoStepFlow", "1", "start", "2", 0, [], [])
    before = time.time()
    scheduler._failed(spec, {"type": "builtins.RuntimeError", "message": "flaky"})
    (due, retry), = scheduler.delayed
    assert retry.attempt == 1
    assert due - before == pytest.approx(expected_wait, abs=5)
