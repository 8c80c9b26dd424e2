"""One attempt as a Kubernetes Job, seen by the scheduler as a ``Worker``: its log streamed
into the worker's pipes by a daemon thread, its Job and Pod events (delivered by the launcher's
namespace watch) turned into the attempt's end, and every way it can die without recording its
own outcome mapped to one sentence (``failure_reason``): an image that cannot be pulled, a pod
that cannot be scheduled, a Job killed by its deadline, an OOM kill.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import termios
import threading
import time
from typing import TYPE_CHECKING, Any

from flowlib.remote.kubernetes.entry import LogDemux
from flowlib.runtime.launcher import Worker
from flowlib.runtime.spec import TaskSpec

if TYPE_CHECKING:
    from flowlib.remote.kubernetes.launcher import KubernetesLauncher

UNSCHEDULABLE_GRACE_ENV = "FLOWLIB_KUBERNETES_UNSCHEDULABLE_GRACE"
VERSION_MISMATCH_EXIT = 78  # flowlib.remote.bootstrap.VERSION_MISMATCH_EXIT

# Waiting reasons that no amount of waiting fixes: fail the attempt at once, with the reason.
FATAL_WAITING = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
}
# Pull errors may be transient (registry hiccup): allow this long before failing on them.
PULL_ERROR_GRACE = {"ErrImagePull": 30.0}
_SETTLE_SECONDS = 10.0  # how long to wait for the pod's exit code once the Job has ended
_FOLLOW_SETTLE = 2.0  # after a followed log ends: wait this long for the exit status
_FOLLOW_IDLE = 300  # a followed log silent this long is re-opened (dead connections)


class KubernetesWorker(Worker):
    """One attempt's Job. ``fds`` are pipes fed by the log thread; they reach EOF only after the
    attempt's end is known, so ``poll(block=True)`` never waits long."""

    def __init__(
        self, spec: TaskSpec, job: str, namespace: str, launcher: KubernetesLauncher
    ) -> None:
        out_r, self._out_w = os.pipe()
        err_r, self._err_w = os.pipe()
        super().__init__(spec, -1, out_r, err_r)
        self.job = job
        self.namespace = namespace
        self.launcher = launcher
        self.pod: str | None = None
        self.deadline_seconds: int | None = None
        self.container_started = False
        self.exit_code: int | None = None
        self.exit_signal: int | None = None
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._done = threading.Event()  # the attempt's end is known
        self._complete = threading.Event()  # ... and its output is in the pipes, which are closed
        self._delete = False
        self._response: Any = None
        self._job_ended_at: float | None = None
        self._job_outcome: str | None = None
        self._waiting: tuple[str, str, float] | None = None  # reason, message, since
        self._unschedulable: tuple[str, float] | None = None
        self._thread = threading.Thread(
            target=self._follow, name=f"flowlib-k8s-logs-{job}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    # -- what the scheduler calls ----------------------------------------------------------
    def poll(self, block: bool = False) -> bool:
        if block:
            self._complete.wait()
            return True
        # The scheduler drops a polled worker's pipes unread (meant for local grandchildren
        # holding them open): report the end only once nothing is left in them.
        return self._complete.is_set() and not any(_unread(fd) for fd in self.fds)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Delete the Job (Kubernetes stops its pod); the attempt ends as killed by ``sig``."""
        with self._lock:
            if self._done.is_set():
                return
            self.exit_signal = sig
            self._done.set()
        self.launcher.delete_job(self.job, self.namespace)
        self._changed.set()
        response = self._response
        if response is not None:  # a followed log may only end when the pod is gone
            try:
                response.close()
            except Exception:  # noqa: BLE001 - closing from another thread, best effort
                pass

    @property
    def exit_description(self) -> tuple[int | None, int | None]:
        return self.exit_code, self.exit_signal

    # -- status, from the watch threads -------------------------------------------------------
    def fail(self, reason: str, delete: bool = True) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self.failure_reason = reason
            self._delete = delete
            self._done.set()
        self._changed.set()

    def on_job(self, event_type: str, job: dict[str, Any]) -> None:
        status = job.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("status") != "True":
                continue
            kind, reason = condition.get("type"), condition.get("reason") or ""
            if kind == "Failed" and reason == "DeadlineExceeded":
                self.deadline_seconds = (job.get("spec") or {}).get(
                    "activeDeadlineSeconds", self.deadline_seconds)
                self.fail(self._deadline_message(), delete=False)
                return
            if kind in ("Failed", "Complete") and self._job_ended_at is None:
                self._job_outcome = f"{kind}: {reason} {condition.get('message') or ''}".strip()
                self._job_ended_at = time.time()
                self._changed.set()
        if event_type == "DELETED" and not self._done.is_set() and self._job_ended_at is None:
            self.fail(f"Job {self.job} of step '{self.spec.step}' was deleted while it ran "
                      "(kubernetes kill, kubectl delete, or the namespace went away)",
                      delete=False)

    def on_pod(self, event_type: str, pod: dict[str, Any]) -> None:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        self.pod = meta.get("name") or self.pod
        if status.get("phase") == "Failed" and status.get("reason"):
            # Pod-level failures say more than the container's exit code 137 does.
            if status["reason"] == "DeadlineExceeded":
                self.fail(self._deadline_message(), delete=False)
            else:
                self.fail(f"pod {self.pod} {status['reason']}: {status.get('message', '')}",
                          delete=False)
        for condition in status.get("conditions") or []:
            if (condition.get("type") == "PodScheduled" and condition.get("status") == "False"
                    and condition.get("reason") == "Unschedulable"):
                if self._unschedulable is None:
                    self._unschedulable = (condition.get("message") or "", time.time())
            elif condition.get("type") == "PodScheduled" and condition.get("status") == "True":
                self._unschedulable = None
        for cs in status.get("containerStatuses") or []:
            state = cs.get("state") or {}
            if "waiting" in state:
                waiting = state["waiting"] or {}
                reason = waiting.get("reason") or ""
                if reason in FATAL_WAITING:
                    since = self._waiting[2] if self._waiting and self._waiting[0] == reason else (
                        time.time())
                    self._waiting = (reason, waiting.get("message") or "", since)
                else:
                    self._waiting = None
            if "running" in state:
                self.container_started = True
                self._waiting = None
            if "terminated" in state:
                self.container_started = True
                self._terminated(state["terminated"] or {})
        self._changed.set()

    def _deadline_message(self) -> str:
        return (f"Job {self.job} of step '{self.spec.step}' exceeded activeDeadlineSeconds "
                f"({self.deadline_seconds} s, from @timeout) and Kubernetes killed its pod")

    def _terminated(self, terminated: dict[str, Any]) -> None:
        code = terminated.get("exitCode")
        sig = terminated.get("signal")
        reason = terminated.get("reason") or ""
        message = terminated.get("message") or ""
        resources = self.launcher.resources.get(self.spec.step)
        why = None
        if reason == "OOMKilled":
            limit = f" of {resources.memory} MiB" if resources else ""
            why = (f"OOMKilled: the container went over its memory limit{limit}; ask for more "
                   "with @resources(memory=...) or @kubernetes(memory=...)")
        elif reason in ("ContainerCannotRun", "StartError"):
            why = f"{reason}: {message}".strip()
        elif code == VERSION_MISMATCH_EXIT:
            why = ("flowlib version mismatch between this machine and the image "
                   f"{self.launcher.settings[self.spec.step].image} (details in the task's "
                   "stderr)")
        with self._lock:
            if self._done.is_set():
                return
            if sig:
                self.exit_signal = int(sig)
            elif isinstance(code, int) and 128 < code <= 128 + 64 and reason != "Completed":
                # A container killed by a signal reports 128 + n; say which, as locally.
                self.exit_signal = code - 128
            else:
                self.exit_code = int(code) if code is not None else None
            if why:
                self.failure_reason = why
            self._done.set()

    # -- the log thread -----------------------------------------------------------------------
    def _follow(self) -> None:
        demux = LogDemux()
        seen = 0
        covered = False  # a followed log ended after the attempt's end was known: it is whole
        try:
            while not self._done.is_set():
                self._check_stuck()
                if self.pod and self.container_started:
                    seen, ended = self._read_log(demux, seen, follow=True)
                    # A followed log ends when the container does; its exit status follows
                    # through the watch a moment later. Then the log already is complete.
                    if self._done.wait(_FOLLOW_SETTLE if ended else 0.5):
                        covered = ended and self.exit_signal is None and (
                            self.failure_reason is None)
                        break
                else:
                    self._changed.wait(1.0)
                    self._changed.clear()
            if self._delete:
                self.launcher.delete_job(self.job, self.namespace)
            if self.pod and self.container_started and not covered:
                seen, _ = self._read_log(demux, seen, follow=False)
            for stream, data in demux.flush():
                self._write(stream, data)
        finally:
            for fd in (self._out_w, self._err_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.launcher.forget(self.job)
            self._complete.set()

    def _check_stuck(self) -> None:
        now = time.time()
        if self._waiting is not None:
            reason, message, since = self._waiting
            if now - since >= PULL_ERROR_GRACE.get(reason, 0.0):
                image = self.launcher.settings[self.spec.step].image
                self.fail(f"{reason}: pod {self.pod} of step '{self.spec.step}' cannot start "
                          f"image {image}: {message}".rstrip(": "))
                return
        if self._unschedulable is not None:
            message, since = self._unschedulable
            grace = float(os.environ.get(UNSCHEDULABLE_GRACE_ENV, "300"))
            if now - since >= grace:
                self.fail(f"pod unschedulable: {message} (pod {self.pod} of step "
                          f"'{self.spec.step}' in namespace {self.namespace}, waited "
                          f"{now - since:.0f} s)")
                return
        if self._job_ended_at is not None and now - self._job_ended_at > _SETTLE_SECONDS:
            # The Job ended but no pod exit code arrived (pod deleted, watch gap).
            self.fail(f"Job {self.job} ended without a container exit status "
                      f"({self._job_outcome})", delete=False)

    def _read_log(self, demux: LogDemux, seen: int, follow: bool) -> tuple[int, bool]:
        """Read the pod log from the start, skip the ``seen`` bytes already passed on (a
        re-opened log starts from the beginning again), write the rest. Returns the new count
        and whether the log was read to its end (not cut by an error)."""
        try:
            response = self.launcher.core.read_namespaced_pod_log(
                self.pod, self.namespace, follow=follow, _preload_content=False,
                _request_timeout=(10, _FOLLOW_IDLE) if follow else 60,
            )
        except Exception:  # noqa: BLE001 - pod gone, not started yet, connection reset
            time.sleep(0.5)
            return seen, False
        ended = False
        offset = 0
        self._response = response
        try:
            while True:
                chunk = response.read1(1 << 16) if hasattr(response, "read1") else (
                    response.read(1 << 16))
                if not chunk:
                    ended = True
                    break
                start = max(0, seen - offset)
                offset += len(chunk)
                if start < len(chunk):
                    for stream, data in demux.feed(chunk[start:]):
                        self._write(stream, data)
                    seen = offset
        except Exception:  # noqa: BLE001 - a dropped stream is re-opened by the caller
            pass
        finally:
            self._response = None
            response.release_conn()
        return seen, ended

    def _write(self, stream: str, data: bytes) -> None:
        fd = self._out_w if stream == "stdout" else self._err_w
        try:
            while data:
                written = os.write(fd, data)
                data = data[written:]
        except OSError:  # the scheduler stopped reading (interrupted run)
            pass


def _unread(fd: int) -> int:
    """Bytes waiting in a pipe (0 once it is closed)."""
    try:
        buffer = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int.from_bytes(buffer, sys.byteorder)
