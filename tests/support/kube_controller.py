"""A test double for a Kubernetes cluster: kmock's API emulator plus a controller that plays the
Job controller and the kubelet. Nothing here is production code.

* :class:`KmockCluster` serves ``kmock.KubernetesEmulator`` (a stateful, in-memory API over real
  HTTP) from an asyncio loop in a background thread, so the synchronous ``kubernetes`` client of
  flowlib's launcher talks to it over loopback like to a real API server.
* :class:`KubeController` watches Jobs through that API. For each new Job it creates a Pod (the
  Job's template labels plus ``job-name``, an ownerReference to the Job), runs the container's
  command as a local process with the container's env over :attr:`node_env` (the "image": the
  interpreter of this test session stands in for the image's ``python``), patches Pod and Job
  status the way Kubernetes does (Pending, Running, Succeeded/Failed with the container's exit
  code; Job ``active``/``succeeded``/``failed`` and conditions; ``DeadlineExceeded`` when
  ``activeDeadlineSeconds`` passes), serves the pod log (``follow`` streams it) and, on a Job's
  deletion, kills the process and deletes the Pod.
* :meth:`KubeController.inject` makes the next Job of a step fail the way a cluster can:
  ``image_pull`` (waiting ErrImagePull, then ImagePullBackOff), ``unschedulable``
  (PodScheduled=False, reason Unschedulable), ``deadline`` (the Job's deadline fires at once)
  and ``oom`` (the container is OOMKilled, exit code 137); both fire 0.5 s after the
  container started, so the step must still be running then.

kmock ignores label selectors and has no uid/resourceVersion; the controller does not need them.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

LOG_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _now() -> str:
    return datetime.datetime.now(tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class KmockCluster:
    """kmock's emulator and HTTP server, running in a background thread."""

    def __init__(self) -> None:
        import kmock

        self._kmock = kmock
        self.loop = asyncio.new_event_loop()
        self.emulator: Any = None
        self.url = ""
        self.logs: dict[tuple[str, str], bytearray] = {}
        self.finished: set[tuple[str, str]] = set()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="kmock", daemon=True)

    def start(self) -> KmockCluster:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("kmock did not start")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(2)  # open watch streams can hold the server: it is a daemon thread

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        kmock = self._kmock
        self._stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
            self.emulator = emulator
            # Pod logs are not part of the emulator's state: serve them from the controller.
            emulator["get", re.compile(LOG_PATH.pattern)] << self._serve_log
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def _serve_log(self, request: Any) -> Any:
        match = LOG_PATH.match(request.url.path)
        key = (match.group(1), match.group(2)) if match else ("", "")
        if key not in self.logs:
            raise self._kmock.KubernetesObjectNotFoundError()
        if str(request.params.get("follow", "")).lower() not in ("true", "1"):
            return bytes(self.logs[key])
        return self._follow(key)

    async def _follow(self, key: tuple[str, str]) -> AsyncIterator[bytes]:
        yield b""
        sent = 0
        while True:
            data = self.logs.get(key, b"")
            if len(data) > sent:
                yield bytes(data[sent:])
                sent = len(data)
            elif key in self.finished:
                return
            await asyncio.sleep(0.05)


class KubeController:
    """Plays the Job controller and the kubelet against a :class:`KmockCluster`."""

    def __init__(self, cluster: KmockCluster, node_env: dict[str, str] | None = None) -> None:
        from kubernetes import client

        self.cluster = cluster
        conf = client.Configuration()
        conf.host = cluster.url
        conf.connection_pool_maxsize = 32
        self.api = client.ApiClient(conf)
        self.batch = client.BatchV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.node_env: dict[str, str] = dict(node_env or {})
        self.faults: dict[str, str] = {}  # step name -> fault, used once
        self.jobs_seen: list[dict[str, Any]] = []
        self.timeline: dict[str, dict[str, float]] = {}  # job -> phase -> time (for benches)
        self.processes: dict[str, subprocess.Popen] = {}  # job name -> process
        self.pods: dict[str, tuple[str, str]] = {}  # job name -> (namespace, pod name)
        self._deleted: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="kube-controller", daemon=True)

    # -- control from tests ----------------------------------------------------------------
    def start(self) -> KubeController:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            procs = list(self.processes.values())
        for proc in procs:
            _kill(proc)

    def inject(self, step: str, fault: str) -> None:
        """Make the next Job of ``step`` fail: image_pull, unschedulable, deadline or oom."""
        assert fault in ("image_pull", "unschedulable", "deadline", "oom"), fault
        with self._lock:
            self.faults[step] = fault

    def step_log(self, step: str) -> bytes:
        """The pod logs so far of the Jobs of ``step`` seen since the last :meth:`reset`."""
        with self._lock:
            jobs = [j["metadata"]["name"] for j in self.jobs_seen
                    if (j["metadata"].get("labels") or {}).get("flowlib/step") == step]
            pods = [self.pods[job] for job in jobs if job in self.pods]
        return b"".join(bytes(self.cluster.logs.get(pod, b"")) for pod in pods)

    def deleted(self, job: str, wait: float = 10) -> bool:
        """Whether ``job`` was deleted (waits a little: the watch lags the API call)."""
        deadline = time.time() + wait
        while job not in self._deleted and time.time() < deadline:
            time.sleep(0.1)
        return job in self._deleted

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.jobs_seen.clear()

    # -- the Job controller ----------------------------------------------------------------
    def _watch(self) -> None:
        from kubernetes import watch

        seen: set[tuple[str, str]] = set()
        while not self._stopped.is_set():
            try:
                stream = watch.Watch().stream(
                    self.batch.list_job_for_all_namespaces, deserialize=False
                )
                for event in stream:
                    job = event.get("object") or {}
                    meta = job.get("metadata") or {}
                    key = (meta.get("namespace", "default"), meta.get("name", ""))
                    if event.get("type") == "DELETED":
                        self._on_deleted(*key)
                    elif event.get("type") == "ADDED" and key not in seen:
                        seen.add(key)
                        self.timeline[key[1]] = {"seen": time.time()}
                        with self._lock:
                            self.jobs_seen.append(job)
                        threading.Thread(target=self._run_job, args=(job,), daemon=True).start()
            except Exception:  # noqa: BLE001 - reconnect, like any controller
                time.sleep(0.2)

    def _on_deleted(self, namespace: str, name: str) -> None:
        with self._lock:
            self._deleted.add(name)
            proc = self.processes.get(name)
        if proc is not None:
            _kill(proc)
        for pod in self._pods_of(namespace, name):
            try:
                self.core.delete_namespaced_pod(pod, namespace)
            except Exception:  # noqa: BLE001 - already gone
                pass

    def _pods_of(self, namespace: str, job: str) -> list[str]:
        pods = self.core.list_namespaced_pod(namespace, _preload_content=False)
        import json

        items = json.loads(pods.data).get("items") or []
        return [
            p["metadata"]["name"] for p in items
            if (p["metadata"].get("labels") or {}).get("job-name") == job
        ]

    def _run_job(self, job: dict[str, Any]) -> None:
        meta, spec = job["metadata"], job["spec"]
        namespace, name = meta.get("namespace", "default"), meta["name"]
        template = spec["template"]
        step = (meta.get("labels") or {}).get("flowlib/step", "")
        with self._lock:
            fault = self.faults.pop(step, None)
        pod_name = f"{name[:57]}-{secrets.token_hex(2)}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": namespace,
                "labels": {**(template["metadata"].get("labels") or {}), "job-name": name,
                           "batch.kubernetes.io/job-name": name},
                "annotations": template["metadata"].get("annotations") or {},
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                     "uid": f"kmock-{name}",
                                     "controller": True}],
            },
            "spec": template["spec"],
            "status": {"phase": "Pending"} if fault == "unschedulable" else {
                "phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]},
        }
        self.core.create_namespaced_pod(namespace, pod, _preload_content=False)
        self._job_status(namespace, name, {"active": 1, "startTime": _now()})
        container = template["spec"]["containers"][0]
        if fault == "unschedulable":
            self._pod_status(namespace, pod_name, {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. "
                           "preemption: 0/3 nodes are available.",
            }]})
            return
        if fault == "image_pull":
            image = container.get("image")
            for reason, message in (
                ("ErrImagePull", f'failed to pull image "{image}": not found'),
                ("ImagePullBackOff", f'Back-off pulling image "{image}"'),
            ):
                self._container_state(namespace, pod_name, "Pending",
                                      {"waiting": {"reason": reason, "message": message}})
                time.sleep(0.2)
            return
        self._run_pod(namespace, name, pod_name, container, spec, fault)

    def _run_pod(self, namespace: str, job: str, pod: str, container: dict[str, Any],
                 spec: dict[str, Any], fault: str | None) -> None:
        key = (namespace, pod)
        self.cluster.logs[key] = bytearray()
        with self._lock:
            self.pods[job] = key
        command = [sys.executable if c == "python" else c for c in container["command"]]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tempfile.gettempdir(),
            "LANG": "C.UTF-8",
            "PYTHONPATH": REPO,
            **self.node_env,
            **{e["name"]: e.get("value", "") for e in container.get("env") or []},
        }
        with self._lock:
            if job in self._deleted:
                return
            proc = subprocess.Popen(
                command, env=env, cwd=tempfile.gettempdir(), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
            self.processes[job] = proc
        self.timeline.setdefault(job, {})["started"] = time.time()
        self._container_state(namespace, pod, "Running", {"running": {"startedAt": _now()}})
        reader = threading.Thread(target=self._pump, args=(proc, key), daemon=True)
        reader.start()
        deadline = spec.get("activeDeadlineSeconds")
        if fault in ("deadline", "oom"):
            deadline = 0.5
        try:
            code = proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            if fault == "oom":  # the kernel's OOM killer: SIGKILL, reported as OOMKilled
                _kill(proc)
                code = proc.wait()
                reader.join(5)
                self.cluster.finished.add(key)
                self._container_state(namespace, pod, "Failed", {"terminated": {
                    "exitCode": 137, "reason": "OOMKilled", "finishedAt": _now()}})
                self._job_status(namespace, job, {"active": 0, "failed": 1, "conditions": [{
                    "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit"}]})
                return
            _kill(proc)
            reader.join(5)
            self.cluster.finished.add(key)
            self._container_state(namespace, pod, "Failed", {"terminated": {
                "exitCode": 137, "reason": "Error", "finishedAt": _now()}},
                reason="DeadlineExceeded",
                message="Pod was active on the node longer than the specified deadline")
            self._job_status(namespace, job, {"active": 0, "failed": 1, "conditions": [{
                "type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                "message": "Job was active longer than specified deadline"}]})
            return
        reader.join(10)
        self.timeline.setdefault(job, {})["exited"] = time.time()
        self.cluster.finished.add(key)
        with self._lock:
            deleted = job in self._deleted
            self.processes.pop(job, None)
        if deleted:
            return
        if code < 0:
            code = 128 - code
        reason = "Completed" if code == 0 else "Error"
        phase = "Succeeded" if code == 0 else "Failed"
        self._container_state(namespace, pod, phase, {"terminated": {
            "exitCode": code, "reason": reason, "finishedAt": _now()}})
        if code == 0:
            self._job_status(namespace, job, {"active": 0, "succeeded": 1, "conditions": [
                {"type": "Complete", "status": "True"}]})
        else:
            self._job_status(namespace, job, {"active": 0, "failed": 1, "conditions": [{
                "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit"}]})

    def _pump(self, proc: subprocess.Popen, key: tuple[str, str]) -> None:
        buffer = self.cluster.logs[key]
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read1(1 << 16), b""):  # type: ignore[union-attr]
            buffer.extend(chunk)

    # -- status patches --------------------------------------------------------------------
    def _container_state(self, namespace: str, pod: str, phase: str, state: dict[str, Any],
                         reason: str | None = None, message: str | None = None) -> None:
        status: dict[str, Any] = {"phase": phase, "containerStatuses": [{
            "name": "step", "state": state, "ready": "running" in state,
            "restartCount": 0}]}
        if reason:
            status["reason"] = reason
            status["message"] = message or ""
        self._pod_status(namespace, pod, status)

    def _pod_status(self, namespace: str, pod: str, status: dict[str, Any]) -> None:
        try:
            self.core.patch_namespaced_pod_status(
                pod, namespace, {"metadata": {"namespace": namespace}, "status": status},
                _preload_content=False)
        except Exception:  # noqa: BLE001 - the pod was deleted meanwhile
            pass

    def _job_status(self, namespace: str, job: str, status: dict[str, Any]) -> None:
        try:
            self.batch.patch_namespaced_job_status(
                job, namespace, {"metadata": {"namespace": namespace}, "status": status},
                _preload_content=False)
        except Exception:  # noqa: BLE001 - the Job was deleted meanwhile
            pass


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
