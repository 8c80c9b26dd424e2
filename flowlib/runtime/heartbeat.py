"""The task process's heartbeat: a daemon thread that records, every ``HEARTBEAT_INTERVAL``
seconds, that the attempt's process is alive. Readers tell a running attempt from one whose
process died unrecorded (a lost Batch host, a killed pod, a runtime killed with its local
tasks) by it; see ``flowlib.metadata.liveness``. A heartbeat that cannot be written (an outage)
is skipped: the step itself goes on."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from flowlib.metadata.liveness import HEARTBEAT_INTERVAL
from flowlib.runtime.spec import TaskSpec


class AttemptHeartbeat:
    def __init__(self, meta: Any, spec: TaskSpec, interval: float = HEARTBEAT_INTERVAL) -> None:
        self._meta = meta
        self._key = (spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="flowlib-heartbeat", daemon=True)

    def _beat(self) -> None:
        # The attempt's start time is its first sign of life: short tasks write no heartbeat.
        while not self._stop.wait(self._interval):
            try:
                self._meta.attempt_heartbeat(*self._key)
            except Exception:  # noqa: BLE001 - a missed beat is not the step's failure
                pass

    def __enter__(self) -> AttemptHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
