"""The AWS Batch launcher: the scheduler's ``launch(spec) -> Worker`` for ``@batch`` steps.

``launch`` returns at once with a worker (``worker.BatchWorker``) whose pipes will carry the
job's CloudWatch log; one background thread does all the talking to Batch:

* submission, buffered for ``BATCH_WINDOW`` seconds so the tasks the scheduler starts in one
  go (a foreach fan-out) are seen together: groups of at least ``array_min`` tasks of the same
  step and attempt go out as one array job, smaller ones as single jobs submitted in parallel;
* status, by ``describe_jobs`` for up to 100 jobs per call, every 0.25 s while things change,
  backing off to 3 s while nothing does;
* kills (``@timeout``, Ctrl-C): ``terminate_job``.

A job that ended is handed to the log streamer, which drains its log and then closes the
worker's pipes: the scheduler sees EOF, calls ``poll``, and reads the outcome from the
metadata store like for a local task. When the task could not record its own outcome (image
not pulled, queue disabled, version mismatch...), ``failure_reason`` says why in one line.

Threads: this module's threads only write to pipes and call AWS; the scheduler stays single
threaded. ``FLOWLIB_BATCH_ARRAY_MIN`` sets the array threshold (0: never use array jobs) and
``FLOWLIB_BATCH_STATS`` names a JSON file that receives the request counts at exit
(benchmarks).
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flowlib.current import current_user
from flowlib.decorators import StepDecorator, compute_backend
from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph
from flowlib.remote.batch import jobs
from flowlib.remote.batch.logs import LogStreamer
from flowlib.remote.batch.worker import BatchWorker
from flowlib.runtime.launcher import Worker
from flowlib.runtime.spec import TaskSpec
from flowlib.stores import Stores

BATCH_WINDOW = 0.05
POLL_MIN = 0.25
POLL_MAX = 3.0
DESCRIBE_CHUNK = 100
ARRAY_MAX = 10_000
DEFAULT_ARRAY_MIN = 10
_SUBMIT_THREADS = 8


class BatchLauncher:
    """Built by the router as ``BatchLauncher(flow_cls, graph, stores, decorators_by_step)``."""

    def __init__(self, flow_cls: type, graph: FlowGraph, stores: Stores,
                 decorators_by_step: dict[str, dict[str, StepDecorator]]) -> None:
        self.flow = graph.name
        self.stores = stores
        self.profile = stores.profile
        self.decorators = decorators_by_step
        self.flow_cls = flow_cls
        self._environments: dict[str, str] | None = None  # step -> @pypi/@conda bundle key
        self.script = Path(sys.modules[flow_cls.__module__].__file__ or "").resolve()
        self.requests: collections.Counter[str] = collections.Counter()
        self.batch, self.logs_client = make_clients(self.profile, self.requests)
        self.streamer = LogStreamer(self.logs_client)
        self.env = {
            **stores.task_env,
            "FLOWLIB_USER": current_user(),
            "PYTHONUNBUFFERED": "1",
        }
        self.array_min = int(os.environ.get("FLOWLIB_BATCH_ARRAY_MIN", DEFAULT_ARRAY_MIN))
        self._targets: dict[str, jobs.StepTarget | str] = {}
        self._queue_problems: dict[str, str | None] = {}
        self._definitions: dict[jobs.JobShape, str] = {}
        self._package: Any = None
        self._lock = threading.Condition()
        self._pending: list[BatchWorker] = []
        self._pending_since = 0.0
        self._kills: list[BatchWorker] = []
        self._active: dict[str, BatchWorker] = {}
        self._interval = POLL_MIN
        self._next_poll = 0.0
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(_SUBMIT_THREADS, thread_name_prefix="batch-submit")
        self.stats = {"jobs": 0, "array_jobs": 0, "array_children": 0}
        stats_file = os.environ.get("FLOWLIB_BATCH_STATS")
        if stats_file:
            atexit.register(self._write_stats, stats_file)

    # -- the scheduler's interface ---------------------------------------------------------
    def launch(self, spec: TaskSpec) -> Worker:
        target = self._target(spec.step)
        if isinstance(target, str):
            worker = BatchWorker(spec, None, self)
            worker.end(None, target)
            return worker
        worker = BatchWorker(spec, target, self)
        problem = self._queue_problem(target.queue)
        if problem:
            worker.end(None, f"step '{spec.step}': {problem}")
            return worker
        if self._package is None:
            from flowlib.remote.package import upload_package
            from flowlib.remote.runtime import container_code

            try:
                self._package = container_code(
                    self.stores, self.flow, upload_package(self.stores, self.flow, self.script),
                    lambda message: print(message, file=sys.stderr, flush=True))
            except FlowlibError as exc:
                worker.end(None, f"step '{spec.step}': {exc}")
                return worker
        try:  # flowlib's dependencies for the image's python, built once, before any submit
            from flowlib.remote.runtime import image_python

            self._package.runtime(image_python(target.shape.image))
        except FlowlibError as exc:
            worker.end(None, f"step '{spec.step}': {exc}")
            return worker
        problem = self._prepare_environments()
        if problem:
            worker.end(None, f"step '{spec.step}': {problem}")
            return worker
        with self._lock:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append(worker)
            self._ensure_thread()
            self._lock.notify()
        return worker

    def _environment_of(self, step: str) -> str | None:
        return (self._environments or {}).get(step)

    def _prepare_environments(self) -> str | None:
        """The container bundles of this run's Batch steps with @pypi/@conda (the run built
        them before starting, so this finds them in the index); a problem as one line."""
        if self._environments is None:
            from flowlib.environments.prepare import container_bundles
            from flowlib.exceptions import FlowlibError

            steps = [s for s, d in self.decorators.items() if "batch" in d]
            try:
                self._environments = container_bundles(
                    self.flow_cls, self.stores, self.decorators, steps, lambda message: None)
            except FlowlibError as exc:
                return str(exc)
        return None

    def closed(self, fd: int) -> None:
        """Nothing to do: the launcher holds only the write ends of its workers' pipes."""

    def stop_run_jobs(self, run_id: str) -> int:
        """Terminate the still-active jobs of an earlier run of this flow (one whose runtime
        died, so nobody reads their outcome); returns how many. Used by ``resume``."""
        from flowlib.remote.batch.cli import ACTIVE, find_jobs

        queues = {t.queue for step in self.decorators
                  if compute_backend(self.decorators[step]) == "batch"
                  and not isinstance(t := self._target(step), str)}
        if self.profile is not None and self.profile["batch_job_queue"]:
            queues.add(self.profile["batch_job_queue"])
        active = [j for j in find_jobs(self.batch, sorted(queues), self.flow, run_id)
                  if j["status"] in ACTIVE]
        for job in active:
            self.batch.terminate_job(
                jobId=job["jobId"],
                reason=f"flowlib: run {self.flow}/{run_id} is being resumed; its runtime died",
            )
        return len(active)

    def request_kill(self, worker: BatchWorker) -> None:
        with self._lock:
            self._kills.append(worker)
            self._ensure_thread()
            self._lock.notify()

    def shutdown(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify()
        self._pool.shutdown(wait=False)

    # -- configuration checks (once per step / queue) --------------------------------------
    def _target(self, step: str) -> jobs.StepTarget | str:
        if step not in self._targets:
            try:
                self._targets[step] = jobs.step_target(step, self.decorators[step], self.profile)
            except FlowlibError as exc:
                self._targets[step] = str(exc)
        return self._targets[step]

    def _queue_problem(self, queue: str) -> str | None:
        if queue not in self._queue_problems:
            try:
                self._queue_problems[queue] = jobs.queue_problem(self.batch, queue)
            except Exception as exc:  # noqa: BLE001 - credentials, network: say so per task
                return f"cannot check AWS Batch job queue '{queue}': {exc}"
        return self._queue_problems[queue]

    def _definition(self, shape: jobs.JobShape) -> str:
        arn = self._definitions.get(shape)
        if arn is None:
            name = shape.definition_name
            found = self.batch.describe_job_definitions(
                jobDefinitionName=name, status="ACTIVE").get("jobDefinitions", [])
            if found:
                arn = max(found, key=lambda d: d["revision"])["jobDefinitionArn"]
            else:
                arn = self.batch.register_job_definition(**shape.register_kwargs())[
                    "jobDefinitionArn"]
            self._definitions[shape] = arn
        return arn

    # -- the background thread -------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="batch-jobs", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
                now = time.monotonic()
                waits = [self._next_poll - now] if self._active else [5.0]
                if self._pending:
                    waits.append(self._pending_since + BATCH_WINDOW - now)
                if self._kills:
                    waits.append(0)
                wait = min(waits)
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                submit = []
                if self._pending and now >= self._pending_since + BATCH_WINDOW:
                    submit, self._pending = self._pending, []
                kills, self._kills = self._kills, []
            try:
                if submit:
                    self._submit(submit)
                if kills:
                    self._kill(kills)
                if self._active and time.monotonic() >= self._next_poll:
                    self._poll()
            except Exception as exc:  # noqa: BLE001 - keep serving the other jobs
                print(f"flowlib: AWS Batch poller error: {exc}", file=sys.stderr)
                self._next_poll = time.monotonic() + POLL_MAX

    def _submit(self, workers: list[BatchWorker]) -> None:
        live = [w for w in workers if not w.kill_requested]
        for worker in workers:
            if worker.kill_requested:
                worker.end(None, None)
        for worker in list(live):  # registered here, in one thread, before parallel submits
            try:
                self._definition(worker.target.shape)  # type: ignore[union-attr]
            except Exception as exc:  # noqa: BLE001 - one line per task, the run goes on
                live.remove(worker)
                worker.end(None, f"step '{worker.spec.step}': cannot register the AWS Batch job "
                                 f"definition: {_error_message(exc)}")
        groups: dict[tuple, list[BatchWorker]] = {}
        for worker in live:
            spec = worker.spec
            key = (spec.step, spec.attempt, spec.caught_error is None)
            groups.setdefault(key, []).append(worker)
        singles: list[BatchWorker] = []
        for (_, _, plain), group in groups.items():
            if plain and self.array_min and len(group) >= max(2, self.array_min):
                for start in range(0, len(group), ARRAY_MAX):
                    self._submit_array(group[start:start + ARRAY_MAX])
            else:
                singles.extend(group)
        list(self._pool.map(self._submit_single, singles))
        self._interval = POLL_MIN
        self._next_poll = time.monotonic() + POLL_MIN

    def _overrides(self, worker: BatchWorker, command: list[str],
                   extra_env: dict[str, str] | None = None) -> dict[str, Any]:
        assert worker.target is not None
        return {
            "command": command,
            "environment": jobs.environment({**self.env, **(extra_env or {})}),
            "resourceRequirements": worker.target.shape.resource_requirements(),
        }

    def _submit_kwargs(self, worker: BatchWorker, name: str) -> dict[str, Any]:
        assert worker.target is not None
        kwargs: dict[str, Any] = {
            "jobName": name,
            "jobQueue": worker.target.queue,
            "jobDefinition": self._definition(worker.target.shape),
            "propagateTags": True,
        }
        if worker.target.attempt_seconds:
            kwargs["timeout"] = {"attemptDurationSeconds": worker.target.attempt_seconds}
        return kwargs

    def _submit_single(self, worker: BatchWorker) -> None:
        spec = worker.spec
        try:
            command = jobs.bootstrap_command(self._package, worker.target.shape.image,  # type: ignore[union-attr]
                                             spec, environment=self._environment_of(spec.step))
            overrides = self._overrides(worker, command)
            problem = jobs.overrides_problem(spec.step, overrides)
            if problem:
                worker.end(None, problem)
                return
            response = self.batch.submit_job(
                **self._submit_kwargs(worker, jobs.job_name(
                    spec.flow, spec.run_id, spec.step, spec.task_id)),
                containerOverrides=overrides,
                tags=jobs.job_tags(spec, self.env["FLOWLIB_USER"]),
            )
        except Exception as exc:  # noqa: BLE001 - one line for the user, the run goes on
            worker.end(None, jobs.submit_problem(spec.step, worker.target.queue,  # type: ignore
                                                 _error_message(exc)))
            return
        self._started(worker, response["jobId"])
        self.stats["jobs"] += 1

    def _submit_array(self, group: list[BatchWorker]) -> None:
        first = group[0]
        spec = first.spec
        task_ids = [w.spec.task_id for w in group]
        try:
            command = jobs.array_command(self._package, first.target.shape.image,  # type: ignore[union-attr]
                                         spec, environment=self._environment_of(spec.step))
            overrides = self._overrides(first, command,
                                        {jobs.ARRAY_TASKS_ENV: ",".join(task_ids)})
            problem = jobs.overrides_problem(spec.step, overrides)
            if problem:
                for worker in group:
                    worker.end(None, problem)
                return
            response = self.batch.submit_job(
                **self._submit_kwargs(first, jobs.job_name(
                    spec.flow, spec.run_id, spec.step, f"array{task_ids[0]}")),
                arrayProperties={"size": len(group)},
                containerOverrides=overrides,
                tags=jobs.job_tags(spec, self.env["FLOWLIB_USER"], f"{task_ids[0]}-{task_ids[-1]}"),
            )
        except Exception as exc:  # noqa: BLE001
            message = jobs.submit_problem(spec.step, first.target.queue,  # type: ignore
                                          _error_message(exc))
            for worker in group:
                worker.end(None, message)
            return
        parent = response["jobId"]
        for index, worker in enumerate(group):
            self._started(worker, f"{parent}:{index}")
        self.stats["array_jobs"] += 1
        self.stats["array_children"] += len(group)

    def _started(self, worker: BatchWorker, job_id: str) -> None:
        worker.job_id = job_id
        with self._lock:
            self._active[job_id] = worker
            if worker.kill_requested:
                self._kills.append(worker)

    def _kill(self, workers: list[BatchWorker]) -> None:
        for worker in workers:
            if worker.done.is_set():
                continue
            if worker.job_id is None:
                with self._lock:
                    if worker in self._pending:
                        self._pending.remove(worker)
                        worker.end(None, None)
                continue  # being submitted: _started re-queues the kill
            try:
                self.batch.terminate_job(jobId=worker.job_id,
                                         reason=f"flowlib: stopped task {worker.spec.pathspec}")
            except Exception as exc:  # noqa: BLE001
                print(f"flowlib: could not stop AWS Batch job {worker.job_id}: {exc}",
                      file=sys.stderr)
        self._interval = POLL_MIN
        self._next_poll = time.monotonic()

    def _poll(self) -> None:
        with self._lock:
            ids = list(self._active)
        changed = False
        for start in range(0, len(ids), DESCRIBE_CHUNK):
            chunk = ids[start:start + DESCRIBE_CHUNK]
            for job in self.batch.describe_jobs(jobs=chunk).get("jobs", []):
                worker = self._active.get(job["jobId"])
                if worker is None:
                    continue
                status = job.get("status")
                changed = changed or status != worker.job.get("status")
                worker.job = job
                stream = (job.get("container") or {}).get("logStreamName")
                if stream and not worker.log_stream:
                    worker.log_stream = stream
                if status in jobs.TERMINAL:
                    with self._lock:
                        self._active.pop(job["jobId"], None)
                    self.streamer.finish(worker)
                elif status == "RUNNING" and worker.log_stream:
                    self.streamer.watch(worker)
        self._interval = POLL_MIN if changed else min(POLL_MAX, self._interval * 1.5)
        self._next_poll = time.monotonic() + self._interval

    def _write_stats(self, path: str) -> None:
        data = {"requests": dict(self.requests), **self.stats}
        Path(path).write_text(json.dumps(data, indent=2))


def make_clients(profile: Any, counter: collections.Counter[str] | None = None
                 ) -> tuple[Any, Any]:
    """Batch and CloudWatch Logs clients for the profile's credentials and region."""
    import boto3
    from botocore.config import Config

    get = (lambda key: profile[key]) if profile is not None else (lambda key: None)
    session = boto3.session.Session(profile_name=get("aws_profile") or None,
                                     region_name=get("region") or None)
    if not session.region_name:
        raise FlowlibError(
            "Running steps on AWS Batch needs a region: set region in the profile, "
            "FLOWLIB_REGION or AWS_REGION."
        )
    config = Config(retries={"mode": "standard", "max_attempts": 10},
                    max_pool_connections=32, connect_timeout=10, read_timeout=60)
    clients = []
    for service in ("batch", "logs"):
        client = session.client(service, config=config)
        if counter is not None:
            def count(model: Any = None, _svc: str = service, **_: Any) -> None:
                counter[f"{_svc}.{model.name if model is not None else '?'}"] += 1

            client.meta.events.register(f"before-call.{service}", count)
        clients.append(client)
    return clients[0], clients[1]


def _error_message(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', exc)}"
    return str(exc)
