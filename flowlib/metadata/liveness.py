"""Is a run recorded as running still alive? Heartbeats answer.

The runtime writes the run's heartbeat every ``HEARTBEAT_INTERVAL`` seconds while it runs. A run
whose runtime died without recording an end (kill -9, a lost machine, a store it could not
reach to write its status) stays "running" in the store; readers show it as ``crashed`` once its
heartbeat is older than ``stale_after()`` seconds, with the time it was last seen. Nothing is
rewritten: the stored status stays as the runtime left it, so a runtime that was only cut off
from the store for a while shows as running again once its heartbeats get through, and
``resume`` continues a crashed run like any failed one.
"""

from __future__ import annotations

import os
import time

from flowlib.metadata.records import RUNNING, AttemptRecord, RunRecord, Status

HEARTBEAT_INTERVAL = 10.0
CRASHED = Status.CRASHED
STALE_ENV = "FLOWLIB_HEARTBEAT_TIMEOUT"
DEFAULT_STALE_AFTER = 6 * HEARTBEAT_INTERVAL


def stale_after() -> float:
    """Seconds without a heartbeat after which a running run counts as crashed."""
    value = os.environ.get(STALE_ENV, "")
    try:
        return float(value) if value else DEFAULT_STALE_AFTER
    except ValueError:
        return DEFAULT_STALE_AFTER


def last_seen(record: RunRecord) -> float:
    return record.heartbeat or record.created


def effective_status(record: RunRecord, now: float | None = None) -> str:
    """The stored status, or ``crashed`` for a running run whose heartbeats stopped."""
    if record.status != RUNNING:
        return record.status
    now = time.time() if now is None else now
    return CRASHED if now - last_seen(record) > stale_after() else RUNNING


def attempt_status(attempt: AttemptRecord, now: float | None = None) -> str:
    """The attempt's stored status, or ``crashed`` for a running attempt whose task process
    stopped sending heartbeats."""
    if attempt.status != RUNNING:
        return attempt.status
    now = time.time() if now is None else now
    seen = attempt.heartbeat or attempt.started
    return CRASHED if now - seen > stale_after() else RUNNING
