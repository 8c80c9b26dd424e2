"""One task attempt on AWS Batch as the scheduler sees it (a ``Worker``): pipes that the
launcher's log streamer fills with the job's CloudWatch log and closes once the job's end is
known, the job's outcome, and ``failure_reason`` in one line when the task could not record
its own (``jobs.explain_failure``). All talking to Batch is the launcher's.
"""

from __future__ import annotations

import collections
import os
import threading
from typing import TYPE_CHECKING, Any

from flowlib.remote.batch import jobs
from flowlib.remote.batch.logs import write_lines
from flowlib.runtime.launcher import Worker
from flowlib.runtime.spec import TaskSpec

if TYPE_CHECKING:
    from flowlib.remote.batch.launcher import BatchLauncher

KILL_GRACE = 15.0  # poll(block=True) after a kill waits this long for Batch to confirm


class BatchWorker(Worker):
    """One task attempt on Batch (a job, or a child of an array job)."""

    def __init__(self, spec: TaskSpec, target: jobs.StepTarget | None, launcher: BatchLauncher
                 ) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        super().__init__(spec, 0, out_r, err_r)
        self._write_fds = [out_w, err_w]
        self._fd_lock = threading.Lock()
        self.target = target
        self.launcher = launcher
        self.job_id: str | None = None
        self.job: dict[str, Any] = {}
        self.job_status: str | None = None
        self.exit_code: int | None = None
        self.log_stream: str | None = None
        self.log_token: str | None = None
        self.log_tail: collections.deque[str] = collections.deque(maxlen=40)
        self.kill_requested = False
        self.done = threading.Event()

    # -- the scheduler's side --------------------------------------------------------------
    def poll(self, block: bool = False) -> bool:
        if block and not self.done.is_set():
            self.done.wait(KILL_GRACE if self.kill_requested else None)
            if not self.done.is_set():
                self.end(None, f"step '{self.spec.step}': AWS Batch job {self.job_id} did not "
                               f"confirm that it stopped within {KILL_GRACE:g} s")
        return self.done.is_set()

    def kill(self, sig: int = 9) -> None:
        if not self.kill_requested and not self.done.is_set():
            self.kill_requested = True
            self.launcher.request_kill(self)

    @property
    def exit_description(self) -> tuple[int | None, int | None]:
        if not self.done.is_set():
            return None, None
        if self.job_status == "SUCCEEDED":
            return 0, None
        return (self.exit_code if self.exit_code is not None else 1), None

    # -- the launcher's side ---------------------------------------------------------------
    def write_log(self, lines: list[str]) -> bool:
        self.log_tail.extend(lines)
        with self._fd_lock:
            if not self._write_fds:
                return False
            return write_lines(self._write_fds[0], lines)

    def output_complete(self) -> None:
        """Called by the log streamer once the ended job's log is drained."""
        status = self.job.get("status")
        reason = None
        if status != "SUCCEEDED":
            assert self.target is not None
            reason = jobs.explain_failure(self.job, self.spec.step, self.target.shape,
                                          list(self.log_tail), self.target.attempt_seconds)
        self.end(status, reason)

    def end(self, status: str | None, reason: str | None) -> None:
        """Record the outcome, close the pipes (EOF for the scheduler), wake ``poll``."""
        if self.done.is_set():
            return
        self.job_status = status or "FAILED"
        container = self.job.get("container") or {}
        self.exit_code = container.get("exitCode")
        if self.job_status != "SUCCEEDED":
            self.failure_reason = reason
        with self._fd_lock:
            for fd in self._write_fds:
                os.close(fd)
            self._write_fds = []
        self.done.set()
