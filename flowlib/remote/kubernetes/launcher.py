"""Runs task attempts as Kubernetes Jobs, behind the same ``launch(spec) -> Worker`` interface
as the local launchers, so the scheduler's loop (select on output pipes, reap, read the outcome
from the metadata store) is unchanged.

Per attempt: one Job (``jobs.build_job``), one daemon thread that streams the pod's log into
the worker's pipes, and no polling: Job and Pod status arrive through one watch per namespace
(``watch.NamespaceWatch``). The task records its own outcome in the shared stores; the worker
only adds what the task could not say itself (``failure_reason``): an image that cannot be
pulled, a pod that cannot be scheduled, a Job killed by its deadline, an OOM kill.

Settings from the environment:

* ``FLOWLIB_KUBERNETES_HOST``: see ``auth``.
* ``FLOWLIB_KUBERNETES_UNSCHEDULABLE_GRACE`` (seconds, default 300): how long a pod may stay
  unschedulable (the cluster autoscaler may be adding a node) before the attempt fails.
* ``FLOWLIB_KUBERNETES_LOCAL_STORES=1``: allow a profile with local stores, for test clusters
  whose pods run on this machine (the kmock test controller); real pods cannot see this disk.
* ``FLOWLIB_KUBERNETES_STATS=path``: write the API request count of this run there at exit
  (used by the benchmark).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import signal
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

from flowlib.current import current_user
from flowlib.decorators import StepDecorator, compute_backend
from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph
from flowlib.remote.kubernetes import jobs
from flowlib.remote.kubernetes.auth import api_client
from flowlib.remote.kubernetes.entry import LogDemux
from flowlib.remote.kubernetes.watch import NamespaceWatch
from flowlib.runtime.launcher import Worker
from flowlib.runtime.scheduler import TIMEOUT_KILL_GRACE
from flowlib.runtime.spec import TaskSpec
from flowlib.stores import Stores
from flowlib.version import __version__

UNSCHEDULABLE_GRACE_ENV = "FLOWLIB_KUBERNETES_UNSCHEDULABLE_GRACE"
LOCAL_STORES_ENV = "FLOWLIB_KUBERNETES_LOCAL_STORES"
STATS_ENV = "FLOWLIB_KUBERNETES_STATS"
ENTRY_MODULE = "flowlib.remote.kubernetes.entry"
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


class KubernetesLauncher:
    """Launches attempts as Jobs; built by the router on the first Kubernetes step of a run."""

    def __init__(
        self,
        flow_cls: type,
        graph: FlowGraph,
        stores: Stores,
        decorators_by_step: dict[str, dict[str, StepDecorator]],
    ) -> None:
        from kubernetes import client

        self.flow = graph.name
        self.stores = stores
        self.decorators = decorators_by_step
        profile = stores.profile
        if (profile is None or not profile.is_aws) and os.environ.get(LOCAL_STORES_ENV) != "1":
            raise FlowlibError(
                f"Steps on Kubernetes need stores the pods can reach, but the stores are "
                f"{stores.description}. Use a profile with datastore 's3' and metadata "
                f"'dynamodb' (FLOWLIB_PROFILE). For a test cluster whose pods run on this "
                f"machine, set {LOCAL_STORES_ENV}=1."
            )
        self.settings = {
            step: jobs.JobSettings.resolve(step, decorators, profile)
            for step, decorators in decorators_by_step.items()
            if compute_backend(decorators) == "kubernetes"
        }
        self.resources = {
            step: jobs.StepResources.from_decorators(decorators_by_step[step])
            for step in self.settings
        }
        self.api = api_client(profile)
        self.requests = 0
        self._count_requests()
        self.batch = client.BatchV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.user = current_user()
        self.store = jobs.store_id(stores.description)
        self.selector = {jobs.label("flow"): jobs.label_value(self.flow),
                         jobs.label("store"): self.store}
        from flowlib.remote.package import upload_package
        from flowlib.remote.runtime import container_code

        self.package = upload_package(stores, self.flow, Path(graph.file))
        # flowlib and its dependencies go with each Job (flowlib.remote.runtime).
        self.code = container_code(stores, self.flow, self.package,
                                   lambda message: print(message, file=sys.stderr, flush=True))
        # step -> blob key of its @pypi/@conda bundle (``flowlib.environments.remote``); the run
        # built them before starting, so this is an index lookup.
        self._environment_args = (flow_cls, stores, decorators_by_step)
        self._environments: dict[str, str] | None = None
        self.workers: dict[str, KubernetesWorker] = {}  # job name -> worker
        self.watches: dict[str, NamespaceWatch] = {}
        self._lock = threading.Lock()
        self.launched = 0
        stats = os.environ.get(STATS_ENV)
        if stats:
            atexit.register(self._write_stats, stats)

    # -- the launcher interface ---------------------------------------------------------------
    def launch(self, spec: TaskSpec) -> Worker:
        settings = self.settings[spec.step]
        name = jobs.job_name(spec, self.store)
        worker = KubernetesWorker(spec, name, settings.namespace, self)
        with self._lock:
            self.workers[name] = worker
        self._ensure_watch(settings.namespace)
        problem = self._prepare_environments() or self._prepare_runtime(settings.image)
        if problem:
            worker.fail(f"step '{spec.step}': {problem}", delete=False)
            worker.start()
            return worker
        manifest = self.job_manifest(spec, name)
        worker.deadline_seconds = manifest["spec"].get("activeDeadlineSeconds")
        try:
            # The reply is the Job we sent, plus status: skip deserialising it into models.
            self.batch.create_namespaced_job(settings.namespace, manifest,
                                             _preload_content=False).release_conn()
        except Exception as exc:  # noqa: BLE001 - ApiException or transport error
            worker.fail(f"Kubernetes did not accept the Job for step '{spec.step}' "
                        f"(namespace {settings.namespace}): {_api_error(exc)}", delete=False)
        self.launched += 1
        worker.start()
        return worker

    def closed(self, fd: int) -> None:
        """Nothing to do: the pipes belong to the workers, not to forked children."""

    def shutdown(self) -> None:
        for watch in list(self.watches.values()):
            watch.stop()

    # -- jobs ---------------------------------------------------------------------------------
    def job_manifest(self, spec: TaskSpec, name: str) -> dict[str, Any]:
        timeout = self.decorators[spec.step].get("timeout")
        env = {
            **self.stores.task_env,
            "FLOWLIB_USER": self.user,
            "PYTHONUNBUFFERED": "1",  # logs reach the pod log as they are written
        }
        command = self.code.command(self.settings[spec.step].image, [
            "-m", ENTRY_MODULE,
            "--flow", self.flow,
            "--package", self.package.key,
            "--expect-version", __version__,
            *self._environment_option(spec.step),
            "--", *spec.command_args(),
        ])
        return jobs.build_job(
            spec,
            name=name,
            settings=self.settings[spec.step],
            resources=self.resources[spec.step],
            command=command,
            env=env,
            labels=jobs.job_labels(spec, self.user, self.store),
            # The step raises at @timeout and the runtime kills it a grace period later; the
            # Job's deadline comes after both.
            timeout_seconds=(
                timeout.total_seconds + TIMEOUT_KILL_GRACE
                if timeout is not None and spec.caught_error is None
                else None
            ),
        )

    def _prepare_environments(self) -> str | None:
        if self._environments is None:
            from flowlib.environments.prepare import container_bundles
            from flowlib.exceptions import FlowlibError

            flow_cls, stores, decorators = self._environment_args
            try:
                self._environments = container_bundles(
                    flow_cls, stores, decorators, list(self.settings), lambda message: None)
            except FlowlibError as exc:
                return str(exc)
        return None

    def _prepare_runtime(self, image: str) -> str | None:
        """flowlib's dependencies for the image's python, built once, before any Job."""
        from flowlib.exceptions import FlowlibError
        from flowlib.remote.runtime import image_python

        try:
            self.code.runtime(image_python(image))
        except FlowlibError as exc:
            return str(exc)
        return None

    def _environment_option(self, step: str) -> list[str]:
        bundle = (self._environments or {}).get(step)
        return ["--environment", bundle] if bundle else []

    def stop_run_jobs(self, run_id: str) -> int:
        """Delete the unfinished Jobs of an earlier run of this flow (one whose runtime died,
        so nobody reads their outcome); returns how many. Used by ``resume``."""
        import json as _json

        wanted = {**self.selector, jobs.label("run"): jobs.label_value(run_id)}
        selector = ",".join(f"{k}={v}" for k, v in wanted.items())
        stopped = 0
        for namespace in sorted({s.namespace for s in self.settings.values()}):
            response = self.batch.list_namespaced_job(
                namespace, label_selector=selector, _preload_content=False)
            for item in _json.loads(response.data).get("items") or []:
                meta = item.get("metadata") or {}
                labels = meta.get("labels") or {}
                status = item.get("status") or {}
                if not all(labels.get(k) == v for k, v in wanted.items()):
                    continue  # an API server that ignores label selectors
                if status.get("succeeded") or status.get("failed") or any(
                    c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                    for c in status.get("conditions") or []
                ):
                    continue
                self.delete_job(meta["name"], namespace)
                stopped += 1
        return stopped

    def delete_job(self, name: str, namespace: str) -> None:
        try:
            self.batch.delete_namespaced_job(
                name, namespace, propagation_policy="Background", _preload_content=False
            ).release_conn()
        except Exception:  # noqa: BLE001 - already gone (TTL, someone else) is fine
            pass

    # -- status -------------------------------------------------------------------------------
    def _ensure_watch(self, namespace: str) -> None:
        if namespace in self.watches:
            return
        watch = NamespaceWatch(self.api, namespace, self.selector, self._on_event)
        self.watches[namespace] = watch
        watch.start()

    def _on_event(self, kind: str, event_type: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if kind == "Job":
            name = meta.get("name")
        else:
            labels = meta.get("labels") or {}
            name = labels.get("job-name") or labels.get("batch.kubernetes.io/job-name")
            if not name:
                owners = meta.get("ownerReferences") or []
                name = next((o.get("name") for o in owners if o.get("kind") == "Job"), None)
        with self._lock:
            worker = self.workers.get(name or "")
        if worker is None:
            return
        if kind == "Job":
            worker.on_job(event_type, obj)
        else:
            worker.on_pod(event_type, obj)

    def forget(self, name: str) -> None:
        with self._lock:
            self.workers.pop(name, None)

    # -- accounting ---------------------------------------------------------------------------
    def _count_requests(self) -> None:
        rest = self.api.rest_client
        original = rest.request
        lock = threading.Lock()

        def counted(*args: Any, **kwargs: Any) -> Any:
            with lock:
                self.requests += 1
            return original(*args, **kwargs)

        rest.request = counted

    def _write_stats(self, path: str) -> None:
        Path(path).write_text(json.dumps({"requests": self.requests, "jobs": self.launched}))


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


def _api_error(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            parsed = json.loads(body)
            return f"{parsed.get('reason', '')}: {parsed.get('message', body)}".strip(": ")
        except (TypeError, ValueError):
            return str(body)[:500]
    return str(exc)[:500]
