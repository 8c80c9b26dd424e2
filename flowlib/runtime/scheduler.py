"""The local scheduler: runs a flow's tasks as isolated processes, up to max-workers at once.

One loop, one thread: it launches ready tasks, streams their output, reaps them, applies
@retry/@catch/@timeout and handles interruption. Each finished task's recorded transition goes
to successors.Successors, which decides the next tasks (static branches, foreach fan-out,
recursive switches, joins once all their inputs are in); the scheduler creates them (task ids,
cloning on resume, the ready queue). It reads outcomes from the metadata store, never from the
task process, so remote launchers fit the same loop.
"""

from __future__ import annotations

import os
import selectors
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from flowlib.decorators import StepDecorator, compute_backend
from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph
from flowlib.metadata.liveness import HEARTBEAT_INTERVAL
from flowlib.metadata.records import FAILED, RUNNING, SUCCEEDED, TaskRecord
from flowlib.runtime.console import Console
from flowlib.runtime.errors import crash_record
from flowlib.runtime.launcher import Worker
from flowlib.runtime.protocol import Launcher
from flowlib.runtime.resume import ResumePlan
from flowlib.runtime.spec import TaskSpec
from flowlib.runtime.state import ForeachFrame
from flowlib.runtime.successors import Successors
from flowlib.stores import Stores
from flowlib.taskenv.decorators import task_environment_of

_LOG_CAP = 32 << 20  # bytes of one stream kept per attempt; the console still shows all
_HEARTBEAT_EVERY = HEARTBEAT_INTERVAL
# Output of running attempts is saved this often, so `flowlib ui` and `logs` can show it while
# the task runs (the final save at the end of the attempt replaces it).
_LOG_FLUSH_EVERY = 5.0
_TERM_GRACE = 3.0
# @timeout first raises TimeoutException inside the step (so @catch keeps what it set); a step
# that swallows it or is stuck in native code is killed this many seconds later.
TIMEOUT_KILL_GRACE = 10.0


class RunInterrupted(FlowlibError):
    exit_code = 130


@dataclass
class Failure:
    pathspec: str
    step: str
    error: dict[str, Any]


class Scheduler:
    def __init__(
        self,
        graph: FlowGraph,
        stores: Stores,
        flow: str,
        run_id: str,
        launcher: Launcher,
        console: Console,
        max_workers: int = 16,
        max_num_splits: int = 100,
        decorators: dict[str, dict[str, StepDecorator]] | None = None,
        tags: list[str] | None = None,
        resume: ResumePlan | None = None,
        max_loop_iterations: int = 1000,
    ) -> None:
        self.graph = graph
        self.meta = stores.metadata
        self.stores = stores
        self.flow = flow
        self.run_id = run_id
        self.launcher = launcher
        self.console = console
        self.max_workers = max(1, max_workers)
        self.max_num_splits = max_num_splits
        self.tags = tags or []
        self.resume = resume
        self.successors = Successors(graph, self._enqueue, self._stop_loop, max_loop_iterations)
        self.decorators = decorators or {node.name: {} for node in graph}
        self.ready: deque[TaskSpec] = deque()
        self.unregistered: dict[str, TaskRecord] = {}
        self.delayed: list[tuple[float, TaskSpec]] = []
        self.active: dict[int, Worker] = {}  # fd -> worker
        self.workers: list[Worker] = []
        self.cloned: set[str] = set()
        self.failures: list[Failure] = []
        self._task_counter = 0
        self._selector = selectors.DefaultSelector()

    # -- public ----------------------------------------------------------------------------
    def run(self, parameters_task: str) -> bool:
        """Run from the start step; True when the end step succeeded."""
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            self._enqueue(
                "start", [parameters_task], [], inputs_cloned=parameters_task in self.cloned
            )
            self._loop()
        except KeyboardInterrupt:
            self._interrupt()
            raise RunInterrupted(
                f"Run {self.flow}/{self.run_id} was interrupted; finished tasks are kept. "
                f"Continue it with: resume --origin-run-id {self.run_id}"
            ) from None
        finally:
            signal.signal(signal.SIGTERM, previous)
            self._selector.close()
            self.launcher.shutdown()
        return self.successors.end_reached and not self.failures

    def mark_cloned(self, pathspec: str) -> None:
        self.cloned.add(pathspec)

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        last_heartbeat = last_flush = time.time()
        while True:
            self._launch_ready()
            if not self.workers and not self.ready and not self.delayed:
                break
            timeout = self._wait_timeout()
            for key, _ in self._selector.select(timeout):
                self._read(key.fd)
            now = time.time()
            for worker in list(self.workers):
                if not worker.fds and worker.poll(block=True):
                    self._finish(worker)
                elif worker.deadline is not None and now > worker.deadline and not worker.timed_out:
                    worker.timed_out = True
                    worker.kill(signal.SIGKILL)
            if now - last_flush > _LOG_FLUSH_EVERY:
                self._flush_running_logs()
                last_flush = now
            if now - last_heartbeat > _HEARTBEAT_EVERY:
                self.meta.heartbeat(self.flow, self.run_id)
                last_heartbeat = now
                # A task may have left a grandchild holding its pipes: reap by pid as well.
                for worker in list(self.workers):
                    if worker.fds and worker.poll():
                        self._drop_fds(worker)
                        self._finish(worker)

    def _flush_running_logs(self) -> None:
        """Save what running attempts printed since the last save (only attempts already
        recorded as started: logs never create an attempt record)."""
        for worker in self.workers:
            size = sum(len(data) for data in worker.output.values())
            if size == getattr(worker, "flushed_size", 0):
                continue
            spec = worker.spec
            record = self._attempt_record(spec)
            if record is None or record.status != RUNNING:
                continue
            logs = {
                stream: self.stores.artifacts(self.flow).put_bytes(bytes(data))
                for stream, data in worker.output.items()
                if data
            }
            self.meta.set_attempt_logs(
                spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt, logs
            )
            worker.flushed_size = size

    def _wait_timeout(self) -> float:
        now = time.time()
        candidates = [1.0]
        candidates += [w.deadline - now for w in self.workers if w.deadline and not w.timed_out]
        candidates += [t - now for t, _ in self.delayed]
        if self.ready and len(self.workers) < self.max_workers:
            candidates.append(0)
        return max(0.0, min(candidates))

    def _launch_ready(self) -> None:
        now = time.time()
        if self.delayed:
            due = [item for item in self.delayed if item[0] <= now]
            self.delayed = [item for item in self.delayed if item[0] > now]
            self.ready.extend(spec for _, spec in due)
        if self.failures:
            self.ready.clear()
            self.delayed.clear()
            return
        if self.ready and self.unregistered and len(self.workers) < self.max_workers:
            # One write registers every ready task (a 1,000-way foreach in one transaction);
            # tasks that never start stay "pending", which the client does not list.
            self.meta.create_tasks(list(self.unregistered.values()))
            self.unregistered.clear()
        while self.ready and len(self.workers) < self.max_workers:
            spec = self.ready.popleft()
            timeout = self._prepare(spec)
            worker = self.launcher.launch(spec)
            worker.started = time.time()
            if timeout is not None:
                worker.deadline = worker.started + timeout + TIMEOUT_KILL_GRACE
            self.workers.append(worker)
            for fd in worker.fds:
                os.set_blocking(fd, False)
                self._selector.register(fd, selectors.EVENT_READ)
                self.active[fd] = worker
            what = (
                "fallback for @catch"
                if spec.caught_error is not None
                else f"attempt {spec.attempt}"
            )
            if spec.attempt or spec.caught_error is not None:
                self.console.task_event(spec.pathspec, f"Task is starting ({what}).")

    def _prepare(self, spec: TaskSpec) -> float | None:
        """Tell the attempt what its decorators ask of the task itself; return its timeout."""
        decorators = self.decorators[spec.step]
        catch = decorators.get("catch")
        spec.catch_var = catch.var if catch is not None else None
        if spec.caught_error is not None:
            return None
        timeout = decorators.get("timeout")
        spec.timeout_seconds = timeout.total_seconds if timeout is not None else None
        retry = decorators.get("retry")
        user_attempts = 1 + (int(retry.times) if retry is not None else 0)
        spec.catch_in_step = catch is not None and spec.attempt + 1 >= user_attempts
        return spec.timeout_seconds

    def _read(self, fd: int) -> None:
        worker = self.active.get(fd)
        if worker is None:
            return
        stream = worker.fds[fd]
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            self._close_fd(worker, fd)
            return
        kept = worker.output[stream]
        if len(kept) < _LOG_CAP:
            kept += chunk[: _LOG_CAP - len(kept)]
        lines = (worker.partial[stream] + chunk).split(b"\n")
        worker.partial[stream] = lines.pop()
        for line in lines:
            self.console.task_line(worker.spec.pathspec, stream, line)

    def _close_fd(self, worker: Worker, fd: int) -> None:
        self._selector.unregister(fd)
        os.close(fd)
        self.launcher.closed(fd)
        del self.active[fd]
        stream = worker.fds.pop(fd)
        if worker.partial[stream]:
            self.console.task_line(worker.spec.pathspec, stream, worker.partial[stream])
            worker.partial[stream] = b""

    def _drop_fds(self, worker: Worker) -> None:
        for fd in list(worker.fds):
            self._close_fd(worker, fd)

    # -- outcomes --------------------------------------------------------------------------
    def _finish(self, worker: Worker) -> None:
        self.workers.remove(worker)
        spec = worker.spec
        record = self._attempt_record(spec)
        error = None
        if record is None or record.status == RUNNING:
            error = self._crash_error(worker, record is None)
            # The reason goes into the attempt's stored stderr too, where `logs` and
            # Task.stderr show it (Metaflow: "Task failed with a segmentation fault.").
            worker.output["stderr"] += f"\nflowlib: Task failed: {error['message']}.\n".encode()
        logs = self._store_logs(spec, worker.output)
        if error is not None:
            self._record_crash(spec, error, started=record is not None)
            status = FAILED
        else:
            status, error = record.status, record.error
        if logs:
            self.meta.set_attempt_logs(
                spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt, logs
            )
        if status == SUCCEEDED:
            task = self.meta.get_task(spec.flow, spec.run_id, spec.step, spec.task_id)
            self.console.task_event(spec.pathspec, "Task finished successfully.")
            self.successors.advance(
                spec.step, spec.frames, spec.pathspec, task.transition or {"next": []}, False
            )
        else:
            self._failed(spec, error or crash_record("Unknown", "the task failed"))

    def _store_logs(self, spec: TaskSpec, output: dict[str, bytearray]) -> dict[str, str]:
        """Store the attempt's output; a log that cannot be stored (disk full) is reported
        and skipped, never allowed to hide the task's own outcome."""
        logs = {}
        for stream, data in output.items():
            if not data:
                continue
            try:
                logs[stream] = self.stores.artifacts(self.flow).put_bytes(bytes(data))
            except FlowlibError as exc:
                self.console.warn(
                    f"[{spec.pathspec}] The {stream} log of attempt {spec.attempt} could not be "
                    f"stored: {exc}"
                )
        return logs

    def _attempt_record(self, spec: TaskSpec) -> Any:
        attempts = self.meta.list_attempts(spec.flow, spec.run_id, spec.step, spec.task_id)
        return next((a for a in attempts if a.attempt == spec.attempt), None)

    def _record_crash(self, spec: TaskSpec, error: dict[str, Any], started: bool) -> None:
        """Record the failure of an attempt that died without recording it itself."""
        key = (spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt)
        if not started:
            self.meta.start_attempt(*key)
        self.meta.finish_attempt(*key, FAILED, {}, None, error)

    def _crash_error(self, worker: Worker, never_started: bool) -> dict[str, Any]:
        code, sig = worker.exit_description
        step_timeout = self.decorators[worker.spec.step].get("timeout")
        if worker.timed_out and step_timeout is not None:
            return crash_record(
                "Timeout",
                f"the attempt exceeded @timeout of {step_timeout.total_seconds:g} s and did not "
                f"stop within {TIMEOUT_KILL_GRACE:g} s of the TimeoutException raised in the "
                "step, so it was killed",
            )
        if worker.failure_reason:
            return crash_record("Infrastructure", worker.failure_reason)
        if sig is not None:
            name = signal.Signals(sig).name
            why = {
                "SIGSEGV": "crashed with a segmentation fault",
                "SIGKILL": "was killed by SIGKILL (for example by the out-of-memory killer)",
                "SIGABRT": "aborted",
                "SIGTERM": "was terminated",
            }.get(name, "was killed by a signal")
            return crash_record("Crash", f"the task process {why} ({name})")
        if never_started:
            return crash_record(
                "Crash", f"the task process exited with code {code} before the step started"
            )
        return crash_record(
            "Crash",
            f"the task process exited with code {code} before the step finished "
            "(os._exit or an interpreter crash in the step)",
        )

    def _failed(self, spec: TaskSpec, error: dict[str, Any]) -> None:
        summary = f"{error.get('type')}: {error.get('message')}"
        decorators = self.decorators[spec.step]
        retry = decorators.get("retry")
        catch = decorators.get("catch")
        user_attempts = 1 + (int(retry.times) if retry is not None else 0)
        if spec.caught_error is None and spec.attempt + 1 < user_attempts:
            # On this machine a retry starts at once, as in Metaflow's local runtime: the wait
            # exists to spare shared services (Batch queues, the cluster, rate-limited APIs)
            # from a retry storm, and a local task uses none of them.
            remote = compute_backend(decorators) is not None
            delay = float(retry.minutes_between_retries) * 60.0 if remote else 0.0
            self.console.task_event(
                spec.pathspec,
                f"Task failed ({summary}); retrying (attempt {spec.attempt + 2} of "
                f"{user_attempts}) in {delay:g} s.",
            )
            self.delayed.append((time.time() + delay, _next_attempt(spec)))
            return
        if catch is not None and spec.caught_error is None:
            if catch.print_exception:
                self.console.task_event(
                    spec.pathspec, f"Task failed ({summary}); @catch handles it."
                )
            fallback = _next_attempt(spec)
            fallback.caught_error = error
            self.ready.append(fallback)
            return
        self.console.warn(f"[{spec.pathspec}] Task failed: {summary}")
        self.failures.append(Failure(spec.pathspec, spec.step, error))

    def _stop_loop(self, pathspec: str, step: str, message: str) -> None:
        """A recursive switch reached --max-loop-iterations: the run fails at that task."""
        self.console.warn(f"[{pathspec}] {message}")
        self.failures.append(Failure(pathspec, step, crash_record("LoopLimit", message)))

    # -- new tasks -------------------------------------------------------------------------
    def _enqueue(
        self,
        step: str,
        input_paths: list[str],
        frames: list[ForeachFrame],
        inputs_cloned: bool,
        iteration: int = 0,
    ) -> None:
        """Create one task: cloned from the origin run when resume allows it (then what follows
        it is decided at once), else registered as pending and queued to run."""
        self._task_counter += 1
        task_id = str(self._task_counter)
        pathspec = f"{self.flow}/{self.run_id}/{step}/{task_id}"
        self.successors.record_iteration(pathspec, iteration)
        source = (
            self.resume.clone_source(step, frames, inputs_cloned, iteration)
            if self.resume
            else None
        )
        stack = [f.to_dict() for f in frames]
        if source is not None:
            self.meta.clone_task(source, self.run_id, task_id, input_paths, stack)
            self.resume.check_origin_kept()  # gc may have marked the origin meanwhile
            self.cloned.add(pathspec)
            self.console.task_event(pathspec, f"Cloned from {source.pathspec}.")
            self.successors.advance(
                step, frames, pathspec, source.transition or {"next": []}, True
            )
            return
        self.unregistered[pathspec] = TaskRecord(
            self.flow, self.run_id, step, task_id, "pending", time.time(), stack, input_paths
        )
        secret_sources, env_vars = task_environment_of(self.decorators[step])
        self.ready.append(
            TaskSpec(
                self.flow,
                self.run_id,
                step,
                task_id,
                0,
                input_paths,
                list(frames),
                self.max_num_splits,
                self.resume.origin_run_id if self.resume else None,
                list(self.tags),
                secret_sources=secret_sources,
                env_vars=env_vars,
            )
        )

    # -- interruption ----------------------------------------------------------------------
    def _interrupt(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for worker in self.workers:
                worker.kill(signal.SIGTERM)
            deadline = time.time() + _TERM_GRACE
            while time.time() < deadline and not all(w.poll() for w in self.workers):
                time.sleep(0.05)
            for worker in self.workers:
                if not worker.poll():
                    worker.kill(signal.SIGKILL)
                    worker.poll(block=True)
                self._drop_fds(worker)
                record = self._attempt_record(worker.spec)
                if record is not None and record.status == RUNNING:
                    error = crash_record("Interrupted", "the run was interrupted")
                    self._record_crash(worker.spec, error, started=True)
            self.workers.clear()
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _next_attempt(spec: TaskSpec) -> TaskSpec:
    from dataclasses import replace

    return replace(spec, attempt=spec.attempt + 1)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
