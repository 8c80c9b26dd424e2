"""Runs task attempts as Kubernetes Jobs, behind the same ``launch(spec) -> Worker`` interface
as the local launchers, so the scheduler's loop (select on output pipes, reap, read the outcome
from the metadata store) is unchanged.

Per attempt: one Job (``jobs.build_job``) and one ``worker.KubernetesWorker``, whose daemon
thread streams the pod's log into its pipes, and no polling: Job and Pod status arrive through
one watch per namespace (``watch.NamespaceWatch``), which this launcher routes to the workers.
The task records its own outcome in the shared stores; the worker only adds what the task
could not say itself (``failure_reason``): an image that cannot be pulled, a pod that cannot
be scheduled, a Job killed by its deadline, an OOM kill.

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
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from flowlib.current import current_user
from flowlib.decorators import StepDecorator, compute_backend
from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph
from flowlib.remote.kubernetes import jobs
from flowlib.remote.kubernetes.auth import api_client
from flowlib.remote.kubernetes.watch import NamespaceWatch
from flowlib.remote.kubernetes.worker import KubernetesWorker
from flowlib.remote.runtime import stage0_environment
from flowlib.runtime.launcher import Worker
from flowlib.runtime.scheduler import TIMEOUT_KILL_GRACE
from flowlib.runtime.spec import TaskSpec
from flowlib.stores import Stores
from flowlib.version import __version__

LOCAL_STORES_ENV = "FLOWLIB_KUBERNETES_LOCAL_STORES"
STATS_ENV = "FLOWLIB_KUBERNETES_STATS"
ENTRY_MODULE = "flowlib.remote.kubernetes.entry"


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
            **stage0_environment(),
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


def _api_error(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            parsed = json.loads(body)
            return f"{parsed.get('reason', '')}: {parsed.get('message', body)}".strip(": ")
        except (TypeError, ValueError):
            return str(body)[:500]
    return str(exc)[:500]
