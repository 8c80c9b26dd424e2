"""Is a run recorded as running still alive? Heartbeats, or the run's orchestrator, answer.

The runtime writes the run's heartbeat every ``HEARTBEAT_INTERVAL`` seconds while it runs. A run
whose runtime died without recording an end (kill -9, a lost machine, a store it could not
reach to write its status) stays "running" in the store; readers show it as ``crashed`` once its
heartbeat is older than ``stale_after()`` seconds, with the time it was last seen. Nothing is
rewritten: the stored status stays as the runtime left it, so a runtime that was only cut off
from the store for a while shows as running again once its heartbeats get through, and
``resume`` continues a crashed run like any failed one.

Runs with no flowlib runtime process (a flow deployed to AWS Step Functions: the state machine
is the runtime) are judged by their orchestrator instead. A backend in ``flowlib.backends``
that orchestrates runs names a *liveness probe* (``Backend.liveness``); a run carrying the
system tag ``runtime:<backend name>`` is passed to it. The probe is imported by name on first
use, like launchers, so this module (the metadata layer) never imports the remote layer. It
returns a ``Liveness`` (for Step Functions: the execution's status from DescribeExecution, so an
execution stopped, timed out or failed outside any task shows as ``crashed`` with one sentence
saying why), or None when it cannot tell, and then the run counts as running: a run is never
guessed dead (``flowlib gc`` and ``resume`` rely on that).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from flowlib.exceptions import FlowlibError
from flowlib.metadata.records import RUNNING, AttemptRecord, RunRecord, Status

HEARTBEAT_INTERVAL = 10.0
CRASHED = Status.CRASHED
STALE_ENV = "FLOWLIB_HEARTBEAT_TIMEOUT"
DEFAULT_STALE_AFTER = 6 * HEARTBEAT_INTERVAL
RUNTIME_TAG = "runtime:"


@dataclass(frozen=True)
class Liveness:
    """How a run stands for readers.

    ``status``: the stored status, or ``crashed`` (derived, never stored). ``reason``: one
    sentence saying why a running run is shown as crashed (or why its liveness is unknown).
    ``ended``: nothing will write to the run any more (a finished run, or one whose orchestrator
    has ended its execution); False for a heartbeat crash, whose runtime may come back.
    """

    status: str
    reason: str | None = None
    ended: bool = False


# A probe takes the run's record and returns a verdict, or None when it cannot tell.
LivenessProbe = Callable[[RunRecord], "Liveness | None"]


def stale_after() -> float:
    """Seconds without a heartbeat after which a running run counts as crashed."""
    value = os.environ.get(STALE_ENV, "")
    try:
        return float(value) if value else DEFAULT_STALE_AFTER
    except ValueError:
        return DEFAULT_STALE_AFTER


def last_seen(record: RunRecord) -> float:
    return record.heartbeat or record.created


def orchestrator_probe(record: RunRecord) -> LivenessProbe | None:
    """The liveness probe of the backend that orchestrates ``record`` (None: a runtime does)."""
    from flowlib.backends import BACKENDS

    tags = set(record.system_tags)
    for backend in BACKENDS.values():
        if backend.liveness and f"{RUNTIME_TAG}{backend.name}" in tags:
            return backend.load("liveness")
    return None


def run_liveness(record: RunRecord, now: float | None = None) -> Liveness:
    """The run's status as readers show it, with the reason for a crash."""
    if record.status != RUNNING:
        return Liveness(record.status, ended=True)
    try:
        probe = orchestrator_probe(record)
    except FlowlibError as exc:  # the backend's package is not installed here
        return Liveness(RUNNING, f"its orchestrator cannot be asked here: {exc}")
    if probe is not None:
        verdict = probe(record)
        return verdict if verdict is not None else Liveness(RUNNING)
    now = time.time() if now is None else now
    seen = last_seen(record)
    if now - seen <= stale_after():
        return Liveness(RUNNING)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seen))
    return Liveness(CRASHED, f"its runtime stopped sending heartbeats; last seen {stamp} UTC, "
                             f"{now - seen:.0f} s ago")


def effective_status(record: RunRecord, now: float | None = None) -> str:
    """The stored status, or ``crashed`` for a running run whose heartbeats stopped or whose
    orchestrator ended its execution (``run_liveness`` says why)."""
    return run_liveness(record, now).status


def attempt_status(attempt: AttemptRecord, now: float | None = None) -> str:
    """The attempt's stored status, or ``crashed`` for a running attempt whose task process
    stopped sending heartbeats."""
    if attempt.status != RUNNING:
        return attempt.status
    now = time.time() if now is None else now
    seen = attempt.heartbeat or attempt.started
    return CRASHED if now - seen > stale_after() else RUNNING
