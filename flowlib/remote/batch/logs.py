"""CloudWatch Logs of Batch jobs, streamed into the workers' pipes by one shared thread.

The scheduler reads a worker's pipe like a local task's stdout: it prefixes the lines on the
console and stores them with the attempt, so ``logs`` shows a remote task's output the same
way. Batch's ``awslogs`` driver merges stdout and stderr into one stream, so everything
arrives on the worker's stdout.

Polling is per job with backoff (1 s, growing to 10 s while a job prints nothing), so a
thousand quiet running jobs do not cost a thousand requests a second. When a job has ended,
its stream is drained to the end before the worker's pipe is closed (EOF tells the scheduler
that the output is complete).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Protocol

LOG_GROUP = "/aws/batch/job"
_FIRST_WAIT = 1.0
_MAX_WAIT = 10.0
_MISSING_STREAM_RETRIES = 3  # a stream can appear a moment after the job ended


class LogTarget(Protocol):
    """What the streamer needs of a worker (BatchWorker)."""

    log_stream: str | None
    log_token: str | None

    def write_log(self, lines: list[str]) -> bool: ...
    def output_complete(self) -> None: ...


class LogStreamer:
    def __init__(self, client: Any, group: str = LOG_GROUP) -> None:
        self.client = client
        self.group = group
        self._lock = threading.Condition()
        self._running: dict[int, tuple[LogTarget, float, float]] = {}  # id -> (w, due, wait)
        self._ending: list[LogTarget] = []
        self._thread: threading.Thread | None = None

    def watch(self, worker: LogTarget) -> None:
        """Stream a running job's log while it runs."""
        with self._lock:
            if id(worker) not in self._running:
                self._running[id(worker)] = (worker, time.monotonic(), _FIRST_WAIT)
            self._start()

    def finish(self, worker: LogTarget) -> None:
        """The job ended: drain its log, then mark its output complete."""
        with self._lock:
            self._running.pop(id(worker), None)
            self._ending.append(worker)
            self._start()
            self._lock.notify()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="batch-logs", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                due = [(w, wait) for w, at, wait in self._running.values() if at <= now]
                ending, self._ending = self._ending, []
                if not due and not ending:
                    next_at = min((at for _, at, _ in self._running.values()), default=now + 5)
                    self._lock.wait(max(0.05, next_at - now))
                    continue
            for worker in ending:
                self._drain(worker, final=True)
                worker.output_complete()
            for worker, wait in due:
                got = self._drain(worker, final=False)
                wait = _FIRST_WAIT if got else min(_MAX_WAIT, wait * 2)
                with self._lock:
                    if id(worker) in self._running:
                        self._running[id(worker)] = (worker, time.monotonic() + wait, wait)

    def _drain(self, worker: LogTarget, final: bool) -> int:
        """Fetch new events of the worker's stream; the number of lines written."""
        if not worker.log_stream:
            return 0
        written = 0
        misses = 0
        while True:
            kwargs: dict[str, Any] = {
                "logGroupName": self.group, "logStreamName": worker.log_stream,
                "startFromHead": True,
            }
            if worker.log_token:
                kwargs["nextToken"] = worker.log_token
            try:
                page = self.client.get_log_events(**kwargs)
            except self.client.exceptions.ResourceNotFoundException:
                misses += 1
                if not final or misses >= _MISSING_STREAM_RETRIES:
                    return written
                time.sleep(1.0)
                continue
            except Exception as exc:  # noqa: BLE001 - a log hiccup must not stop the run
                worker.write_log([f"[flowlib: could not read the CloudWatch log: {exc}]"])
                return written
            events = page.get("events", [])
            token = page.get("nextForwardToken")
            same = token == worker.log_token
            worker.log_token = token
            if events and not worker.write_log([e.get("message", "") for e in events]):
                return written
            written += len(events)
            if not events or same:
                return written


def write_lines(fd: int, lines: list[str]) -> bool:
    """Write lines to a pipe; False once the reader has gone."""
    data = "".join(line if line.endswith("\n") else line + "\n" for line in lines).encode()
    try:
        while data:
            sent = os.write(fd, data)
            data = data[sent:]
    except (BrokenPipeError, OSError):
        return False
    return True
