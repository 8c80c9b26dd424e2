"""Container entry of every Step Functions state: the bookkeeping the local scheduler does,
then the standalone step command, unchanged.

    python -m flowlib.remote.stepfunctions.entry --flow F --package KEY --expect-version V \
        --step S --parent-kind same --parents a,b [...]

The state machine passes what only it knows through the job's environment:
``FLOWLIB_SFN_EXECUTION`` (execution name), ``FLOWLIB_SFN_RUN`` (run id, from the start
task's control record), ``FLOWLIB_SFN_TASK`` (the foreach position: ``1``, ``1-3``, ``1-3-0``
per foreach level; it is the task id, but for the repetitions of a recursive switch's step,
``1.1``, ``1.2``..., numbered here from the step's control record, see ``Entry.locate``),
``FLOWLIB_SFN_RERUN`` (steps a resume re-runs) and, for the start task only,
``FLOWLIB_SFN_INPUT`` (the execution input: the run id allocated by ``trigger``, or nothing
for a scheduled execution, which allocates the run here) and ``FLOWLIB_SFN_EXECUTION_ARN``
(recorded on a run allocated here, for its liveness).

The entry then (1) registers the task with its input paths and foreach frames, read from its
parents' records in the metadata store (or clones the origin run's task on resume), (2) runs
``python flow.py step S --run-id R --task-id T --attempt N`` from the code package, the
command ``--with batch`` submits (what ``flowlib.remote.bootstrap`` does, in-process), with
the step's ``@timeout`` as a deadline, (3) records an attempt that died without recording
itself, like the local scheduler, and (4) writes the control record the state machine reads
after a start, foreach or switch task, and marks the run finished after ``end`` or after a
failure no ``@retry``/``@catch`` will handle.
Exit status 0 means the task succeeded (Step Functions moves on), anything else fails the
Batch job (Step Functions applies the state's Retry and Catch).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from flowlib.exceptions import FlowlibError
from flowlib.metadata.records import FAILED, RUNNING, SUCCEEDED, TaskRecord
from flowlib.version import __version__

VERSION_MISMATCH_EXIT = 78
ENV_EXECUTION = "FLOWLIB_SFN_EXECUTION"
ENV_EXECUTION_ARN = "FLOWLIB_SFN_EXECUTION_ARN"  # start task only ($$.Execution.Id)
ENV_RUN = "FLOWLIB_SFN_RUN"
ENV_TASK = "FLOWLIB_SFN_TASK"
ENV_INPUT = "FLOWLIB_SFN_INPUT"
ENV_RERUN = "FLOWLIB_SFN_RERUN"
ENV_DEFAULTS = "FLOWLIB_SFN_DEFAULT_PARAMETERS"
ENV_RUN_TAGS = "FLOWLIB_SFN_RUN_TAGS"
EXECUTION_TAG = "step_functions_execution:"
FIRST_TASK = "1"
PARAMETERS_STEP = "_parameters"


class EntryError(Exception):
    """The task cannot be set up (a missing parent, a run that does not exist)."""


def control_key(flow: str, execution: str, step: str, task_id: str) -> dict[str, Any]:
    """Where the control record of a task lives in the metadata table (DynamoDB)."""
    return {"pk": {"S": f"SFN#{flow}#{execution}"}, "sk": {"S": f"{step}#{task_id}"}}


def items_key(prefix: str, flow: str, execution: str, step: str, task_id: str) -> str:
    """Where a foreach task writes its split indices for a Distributed Map (S3)."""
    parts = [p for p in ((prefix or "").strip("/"), "stepfunctions", "items", flow, execution,
                         step, f"{task_id}.json") if p]
    return "/".join(parts)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flowlib.remote.stepfunctions.entry")
    parser.add_argument("--flow", required=True)
    parser.add_argument("--package", required=True)
    parser.add_argument("--expect-version", required=True)
    parser.add_argument("--step", required=True)
    parser.add_argument("--parent-kind", required=True,
                        choices=["parameters", "same", "foreach-body", "foreach-join"])
    parser.add_argument("--parents", default="")
    parser.add_argument("--split", default=None)
    parser.add_argument("--control", action="store_true")
    parser.add_argument("--items-to-s3", action="store_true")
    parser.add_argument("--retries", type=int, default=0)
    parser.add_argument("--catch", action="store_true")
    parser.add_argument("--catch-fallback", action="store_true")
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--max-num-splits", type=int, default=100)
    parser.add_argument("--environment", help="blob key of the step's @pypi/@conda bundle")
    parser.add_argument("--loop", action="store_true")
    parser.add_argument("--max-loop-iterations", type=int, default=1000)
    parser.add_argument("--loop-parents", default="")
    return parser.parse_args(argv)


class Entry:
    def __init__(self, args: argparse.Namespace, environ: dict[str, str]) -> None:
        from flowlib.stores import open_stores

        self.args = args
        self.env = environ
        self.stores = open_stores()
        self.meta = self.stores.metadata
        self.flow = args.flow
        self.step = args.step
        self.execution = environ[ENV_EXECUTION]
        self.path = environ.get(ENV_TASK) or "1"
        self.task_id = self.path
        self.iteration = 0  # repetition of a recursive switch's step (``locate``)
        self.loop_parents = {p for p in args.loop_parents.split(",") if p}
        self.rerun = set(json.loads(environ.get(ENV_RERUN) or "[]"))
        self.run_id = environ.get(ENV_RUN) or ""
        self.script = ""

    # -- the run ------------------------------------------------------------------------
    def resolve_run(self) -> None:
        if self.run_id:
            return
        given = json.loads(self.env.get(ENV_INPUT) or "{}")
        if given.get("run_id"):
            self.run_id = str(given["run_id"])
            self.rerun = set(given.get("rerun") or [])
            if self.meta.get_run(self.flow, self.run_id) is None:
                raise EntryError(f"run {self.flow}/{self.run_id} named by the execution input "
                                 "does not exist in the metadata store")
            return
        self.run_id = self._allocate_run(given.get("defaults") or self.env.get(ENV_DEFAULTS),
                                         given)

    def _allocate_run(self, key: str | None, given: dict[str, Any]) -> str:
        """A scheduled, event-triggered (``triggers``) or console-started execution: allocate
        the run here, once."""
        from flowlib.current import current_user
        from flowlib.datastore.artifacts import ArtifactRef
        from flowlib.remote.stepfunctions.triggers import coerce, triggered_run
        from flowlib.runtime.run import register_parameters
        from flowlib.tags import system_tags

        tag = EXECUTION_TAG + self.execution
        existing = next(iter(self.meta.list_runs(self.flow, tags=[tag], limit=1)), None)
        if existing is not None:  # this job is a re-run of the start task
            return existing.run_id
        refs = {}
        if key:
            raw = json.loads(self.stores.artifacts(self.flow).get_bytes(key))
            refs = {name: ArtifactRef.from_dict(ref) for name, ref in raw.items()}
        trigger_tags, values = triggered_run(given)
        store = self.stores.artifacts(self.flow)
        for name, value in values.items():
            if name in refs:  # only the flow's parameters (checked at create)
                default = store.load(refs[name])
                refs[name] = store.save(name, coerce(value, default),
                                        f"the run's parameters ({self.flow})")
        run_tags = json.loads(self.env.get(ENV_RUN_TAGS) or "[]")
        arn = self.env.get(ENV_EXECUTION_ARN)
        if arn:  # what the run's liveness asks Step Functions about (``liveness``)
            from flowlib.remote.stepfunctions.liveness import EXECUTION_ARN_TAG

            run_tags.append(EXECUTION_ARN_TAG + arn)
        run = self.meta.create_run(self.flow, current_user(),
                                   [*system_tags(), *run_tags, tag, *trigger_tags], [])
        register_parameters(self.stores, self.flow, run.run_id, refs, None)
        return run.run_id

    # -- the task -----------------------------------------------------------------------
    def pathspec(self, step: str, task_id: str) -> str:
        return f"{self.flow}/{self.run_id}/{step}/{task_id}"

    def read_control(self, step: str, path: str) -> dict[str, Any] | None:
        """The control record ``step`` wrote at foreach position ``path`` in this execution."""
        from flowlib.config.aws import AwsContext

        profile = self.stores.profile
        item = AwsContext(profile).client("dynamodb").get_item(
            TableName=profile["dynamodb_table"], ConsistentRead=True,
            Key=control_key(self.flow, self.execution, step, path)).get("Item")
        return json.loads(item["ctl"]["S"]) if item else None

    def locate(self) -> None:
        """The task id of this visit of a recursive switch's step, like the local scheduler's
        repetitions: each visit is a new task whose input is the previous one.

        Visits at one position run one after the other, and each rewrites the step's control
        record there: none yet, this is the first visit (the position is the task id); one
        asking for a repetition, this is the next (``<path>.<n>``); one that left the loop,
        this job re-runs that finished visit (the state's retry after a lost job)."""
        if not self.args.loop:
            return
        ctl = self.read_control(self.step, self.path)
        if ctl is None:
            return
        if ctl.get("next") == self.step and not ctl.get("loop_limit"):
            self.iteration = int(ctl["iteration"]) + 1
            self.task_id = f"{self.path}.{self.iteration}"
        else:
            self.iteration, self.task_id = int(ctl["iteration"]), str(ctl["task"])

    def _parent_task(self, step: str, path: str) -> str:
        """The task id of ``step`` at ``path``: its last visit when it is a loop."""
        if step not in self.loop_parents:
            return path
        ctl = self.read_control(step, path)
        return str(ctl["task"]) if ctl and ctl.get("task") else path

    def _done(self, step: str, task_id: str) -> TaskRecord | None:
        task = self.meta.get_task(self.flow, self.run_id, step, task_id)
        return task if task is not None and task.status == SUCCEEDED else None

    def inputs(self) -> tuple[list[TaskRecord], list[dict[str, Any]]]:
        """The parent tasks and the foreach frames of this task."""
        from flowlib.runtime.state import ForeachFrame

        kind = self.args.parent_kind
        parents = [p for p in self.args.parents.split(",") if p]
        if self.iteration > 0:  # a repetition: the previous visit is the input
            previous = self.path if self.iteration == 1 else f"{self.path}.{self.iteration - 1}"
            found = self._done(self.step, previous)
            if found is None:
                raise EntryError(f"task {self.pathspec(self.step, previous)}, which this one "
                                 "repeats, has not succeeded")
            return [found], list(found.foreach_stack)
        if kind == "parameters":
            found = self._done(PARAMETERS_STEP, "0")
            if found is None:
                raise EntryError(f"run {self.flow}/{self.run_id} has no stored parameters")
            return [found], []
        if kind == "foreach-body":
            split_id, _, index = self.path.rpartition("-")
            split = self._done(parents[0], self._parent_task(parents[0], split_id))
            if split is None or not split.transition:
                raise EntryError(f"foreach task {self.pathspec(parents[0], split_id)} has not "
                                 "succeeded")
            frame = ForeachFrame(parents[0], split.transition["foreach"],
                                 int(split.transition["num_splits"]), int(index),
                                 split.pathspec)
            return [split], [*split.foreach_stack, frame.to_dict()]
        if kind == "foreach-join":
            split = self._done(self.args.split, self.path)
            if split is None or not split.transition:
                raise EntryError(f"foreach task {self.pathspec(self.args.split, self.path)} "
                                 "has not succeeded")
            children = [f"{self.path}-{i}" for i in range(int(split.transition["num_splits"]))]
            # Each iteration ended in one of the parents (a switch may end it in another):
            # one batched read per parent, not one read per iteration.
            done: dict[str, TaskRecord] = {}
            for parent in parents:
                missing = [c for c in children if c not in done]
                records = self.meta.get_tasks(self.flow, self.run_id, [
                    (parent, self._parent_task(parent, child)) for child in missing])
                done.update((child, task) for child, task in zip(missing, records, strict=True)
                            if task is not None and task.status == SUCCEEDED)
            for child in children:
                if child not in done:
                    raise EntryError(f"no step of {', '.join(parents)} succeeded as task "
                                     f"{child} of run {self.flow}/{self.run_id}")
            return [done[child] for child in children], list(split.foreach_stack)
        found = [t for p in parents if (t := self._done(p, self._parent_task(p, self.path)))]
        if not found:
            raise EntryError(f"no step of {', '.join(parents)} succeeded as task "
                             f"{self.path} of run {self.flow}/{self.run_id}")
        return found, list(found[0].foreach_stack)

    def register(self) -> TaskRecord:
        """The task's record: registered now, or cloned from the origin run on resume."""
        task = self.meta.get_task(self.flow, self.run_id, self.step, self.task_id)
        if task is not None:
            return task
        parents, stack = self.inputs()
        input_paths = [p.pathspec for p in parents]
        plan, source = self._clone_source(parents, stack)
        if plan is not None and source is not None:
            self.meta.clone_task(source, self.run_id, self.task_id, input_paths, stack)
            plan.check_origin_kept()  # gc may have marked the origin meanwhile, as locally
            print(f"flowlib: task {self.pathspec(self.step, self.task_id)} cloned from "
                  f"{source.pathspec}", flush=True)
        else:
            self.meta.create_tasks([TaskRecord(self.flow, self.run_id, self.step, self.task_id,
                                               "pending", time.time(), stack, input_paths)])
        task = self.meta.get_task(self.flow, self.run_id, self.step, self.task_id)
        assert task is not None
        return task

    def _clone_source(self, parents: list[TaskRecord], stack: list[dict[str, Any]]
                      ) -> tuple[Any, TaskRecord | None]:
        """The origin run's resume plan and the task to clone (None, None: run it)."""
        run = self.meta.get_run(self.flow, self.run_id)
        if run is None or run.origin_run_id is None or self.step in self.rerun:
            return None, None
        if not all(p.origin is not None for p in parents):
            return None, None  # an input was recomputed: this task would see other values
        from flowlib.runtime.resume import ResumePlan
        from flowlib.runtime.state import ForeachFrame

        plan = ResumePlan(self.meta, None, self.flow, run.origin_run_id, None)  # type: ignore
        frames = [ForeachFrame.from_dict(f) for f in stack]
        return plan, plan.clone_source(self.step, frames, True, self.iteration)

    # -- running it ---------------------------------------------------------------------
    def run_attempt(self) -> bool:
        from flowlib.runtime.errors import crash_record

        key = (self.flow, self.run_id, self.step, self.task_id)
        attempts = self.meta.list_attempts(*key)
        restart = (int(self.env.get("AWS_BATCH_JOB_ATTEMPT", "1") or 1) > 1 and bool(attempts)
                   and attempts[-1].status == RUNNING)
        attempt = attempts[-1].attempt if restart else len(attempts)
        step_args = ["step", self.step, "--run-id", self.run_id, "--task-id", self.task_id,
                     "--attempt", str(attempt), "--max-num-splits", str(self.args.max_num_splits)]
        if self.args.catch_fallback:
            step_args.append("--catch-fallback")
        # What ``python -m flowlib.remote.bootstrap`` does (the version was checked in
        # ``main``), without a third interpreter: fetch the package, run the step command.
        workdir = self._unpack()
        command = [sys.executable, str(workdir / self.script), *step_args]
        deadline = None if self.args.catch_fallback else self.args.timeout
        timed_out, setup_error = False, None
        try:
            result = subprocess.run(command, timeout=deadline, check=False,  # noqa: S603
                                    cwd=workdir, env=self._task_env())
            code = result.returncode
        except subprocess.TimeoutExpired:
            timed_out, code = True, None
        except FlowlibError as exc:  # the step's @pypi/@conda bundle cannot be used here
            setup_error, code = str(exc), None
        record = next((a for a in self.meta.list_attempts(*key) if a.attempt == attempt), None)
        if record is None or record.status == RUNNING or timed_out:
            if setup_error:
                error = crash_record("Crash", f"cannot set up the step's environment: "
                                              f"{setup_error}")
            elif timed_out:
                error = crash_record("Timeout", f"the attempt exceeded @timeout of "
                                                f"{self.args.timeout:g} s and was killed")
            elif record is None:
                error = crash_record("Crash", f"the task process exited with code {code} "
                                              "before the step started")
            else:
                error = crash_record("Crash", f"the task process exited with code {code} "
                                              "before the step finished")
            if record is None:
                self.meta.start_attempt(*key, attempt)
            if record is None or record.status == RUNNING:
                self.meta.finish_attempt(*key, attempt, FAILED, {}, None, error)
            print(f"flowlib: {error['type']}: {error['message']}", file=sys.stderr, flush=True)
            return False
        return record.status == SUCCEEDED

    def _task_env(self) -> dict[str, str]:
        """The step's environment: this one, plus what started the run (``current.trigger``)."""
        from dataclasses import asdict

        from flowlib.current import TRIGGER_ENV, Trigger

        env = dict(os.environ)
        if self.args.environment:  # the step's @pypi/@conda bundle, as flowlib.remote.bootstrap
            from flowlib.remote.bootstrap import environment_variables

            env.update(environment_variables(self.flow, self.args.environment, env))
        run = self.meta.get_run(self.flow, self.run_id)
        trigger = Trigger.from_tags(run.system_tags) if run is not None else None
        if trigger is not None:
            env[TRIGGER_ENV] = json.dumps(asdict(trigger))
        return env

    def publish_finished(self) -> None:
        """A production run that succeeded tells ``@trigger_on_finish`` flows (best effort:
        the run has succeeded whatever EventBridge answers)."""
        from flowlib.events import flow_finished_entry, put_event

        run = self.meta.get_run(self.flow, self.run_id)
        tags = list(run.system_tags) if run is not None else []
        if "production" not in tags:
            return
        try:
            put_event(self.stores.profile,
                      flow_finished_entry(self.stores.profile, self.flow, self.run_id, tags))
        except Exception as exc:  # noqa: BLE001 - any failure: say so, keep the run's success
            print(f"flowlib: could not publish the flow-finished event of "
                  f"{self.flow}/{self.run_id} (@trigger_on_finish flows will not start): {exc}",
                  file=sys.stderr, flush=True)

    def _unpack(self) -> Path:
        from flowlib.remote.package import unpacked_package

        try:
            workdir, manifest = unpacked_package(self.stores, self.flow, self.args.package)
        except FlowlibError as exc:
            raise EntryError(f"cannot fetch the code package: {exc}") from None
        self.script = manifest["script"]
        return workdir

    def write_control(self, task: TaskRecord) -> None:
        if not self.args.control:
            return
        from flowlib.config.aws import AwsContext

        transition = task.transition or {}
        ctl: dict[str, Any] = {"run": self.run_id, "rerun": sorted(self.rerun)}
        if transition.get("foreach"):
            count = int(transition.get("num_splits", 0))
            ctl["num_splits"] = count
            if not self.args.items_to_s3:  # a Distributed Map reads them from S3
                ctl["splits"] = list(range(count))
        elif transition.get("next"):
            ctl["next"] = transition["next"][0]
        if self.args.loop:
            ctl.update(task=self.task_id, iteration=self.iteration, loop_limit=False)
            if ctl.get("next") == self.step:
                self._check_loop_limit(ctl)
        profile = self.stores.profile
        if self.args.items_to_s3 and transition.get("foreach"):
            kms = profile["s3_kms_key_arn"]
            sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms} if kms else {}
            AwsContext(profile).client("s3").put_object(
                Bucket=profile["s3_bucket"],
                Body=json.dumps(list(range(ctl["num_splits"]))).encode(),
                Key=items_key(profile["s3_prefix"], self.flow, self.execution, self.step,
                              self.path), **sse)
        client = AwsContext(profile).client("dynamodb")
        client.put_item(TableName=profile["dynamodb_table"],
                        Item={**control_key(self.flow, self.execution, self.step, self.path),
                              "ctl": {"S": json.dumps(ctl, sort_keys=True)},
                              "type": {"S": "sfn_control"}})

    def _check_loop_limit(self, ctl: dict[str, Any]) -> None:
        """The bound of ``run --max-loop-iterations``, with the local runtime's message: the
        run fails and the state machine goes to the step's ``LoopLimit`` Fail state."""
        from flowlib.runtime.errors import loop_limit_message

        repeats = self.iteration + 1
        if repeats < self.args.max_loop_iterations:
            return
        ctl["loop_limit"] = True
        message = loop_limit_message(self.step, repeats, "step-functions create")
        print(f"flowlib: [{self.pathspec(self.step, self.task_id)}] {message}",
              file=sys.stderr, flush=True)
        self.finish_run(FAILED)

    def finish_run(self, status: str) -> None:
        self.meta.update_run(self.flow, self.run_id, status, time.time())

    def main(self) -> int:
        self.resolve_run()
        self.locate()
        task = self.register()
        if task.status != SUCCEEDED:
            ok = self.run_attempt()
            if not ok:
                final = self.args.catch_fallback or (
                    not self.args.catch
                    and len(self.meta.list_attempts(self.flow, self.run_id, self.step,
                                                    self.task_id)) > self.args.retries)
                if final:
                    self.finish_run(FAILED)
                return 1
            task = self.meta.get_task(self.flow, self.run_id, self.step, self.task_id)
            assert task is not None
        self.write_control(task)
        if self.step == "end":
            self.finish_run(SUCCEEDED)
            self.publish_finished()
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.expect_version != __version__:
        print(f"flowlib version mismatch: the state machine was created with flowlib "
              f"{args.expect_version} but this image has flowlib {__version__}. Rebuild the "
              "image, or re-run step-functions create with the image's version.",
              file=sys.stderr)
        return VERSION_MISMATCH_EXIT
    try:
        return Entry(args, dict(os.environ)).main()
    except EntryError as exc:
        print(f"flowlib: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
