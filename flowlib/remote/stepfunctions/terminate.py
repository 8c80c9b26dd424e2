"""``step-functions terminate RUN``: stop a deployed run's execution and its Batch jobs; and
the jobs an ended execution left running, stopped before a ``resume``.

A run of a deployment is an execution of its state machine: ``terminate`` finds it from the
run's records (``step_functions_execution_arn:`` tag, or the execution name with the
deployment's state machine), stops it with StopExecution (error ``flowlib.Terminated``, the
cause naming who and how), then stops the run's still-active Batch jobs (``run_jobs``).
Nothing is written to the run: its status comes from the execution (``liveness``), so every
reader shows it ``crashed`` at once, the reason ending with that cause, and ``resume``
continues it.

A run whose execution has already ended is not terminated again: the jobs it left running, if
any, are stopped; with none, it is an error saying how the run ended.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flowlib.exceptions import FlowlibError
from flowlib.metadata.liveness import run_liveness
from flowlib.metadata.records import RunRecord
from flowlib.remote.stepfunctions import run_jobs
from flowlib.remote.stepfunctions.entry import EXECUTION_TAG
from flowlib.remote.stepfunctions.liveness import execution_arn, forget, recorded_arn

TERMINATED_ERROR = "flowlib.Terminated"  # StopExecution's error: the run's crash reason shows it
STOP_PATIENCE = 30.0  # seconds terminate waits for the stopped execution to report it ended
_RUNTIME_TAG = "runtime:step-functions"
_DEPLOYMENT_TAG = "step_functions:"


class TerminateError(FlowlibError):
    """The run cannot be terminated; the message says why and what to do."""


class _NoExecution(TerminateError):
    """The run's execution does not exist."""


@dataclass(frozen=True)
class Terminated:
    """What ``terminate`` did."""

    pathspec: str
    execution_arn: str
    stopped_execution: bool  # False: the execution had already ended
    jobs: int  # Batch jobs asked to stop
    ended_as: str = ""  # the execution's status, when it had already ended
    shown_as: str = ""  # the run's status as readers now show it

    def message(self) -> str:
        shown = f"\nRun {self.pathspec}: {self.shown_as}." if self.shown_as else ""
        if self.stopped_execution:
            return (f"Terminated run {self.pathspec} (execution {self.execution_arn}); "
                    f"stopped {self.jobs} batch job(s).{shown}")
        return (f"Stopped {self.jobs} batch job(s) that run {self.pathspec} left running (its "
                f"execution {self.execution_arn} had already ended: {self.ended_as})."
                f"{shown}")


def run_id_of(flow: str, ref: str) -> str:
    """``12`` or ``Flow/12`` -> ``12`` (another flow's pathspec is refused)."""
    parts = ref.strip().split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0]
    if len(parts) == 2 and all(parts):
        if parts[0] != flow:
            raise TerminateError(f"terminate: {ref} is a run of {parts[0]}, not of {flow}: "
                                 f"run 'python <{parts[0]}'s file> step-functions terminate "
                                 f"{ref}'.")
        return parts[1]
    raise TerminateError(f"terminate: {ref!r} is not a run: give its id (12) or pathspec "
                         f"({flow}/12).")


def run_execution(deployer: Any, state_machine_arn: str, record: RunRecord) -> str:
    """The ARN of the run's execution in this deployment; refuses a run of another runtime or
    another deployment with what to do instead."""
    pathspec = f"{record.flow}/{record.run_id}"
    tags = set(record.system_tags)
    if _RUNTIME_TAG not in tags:
        raise TerminateError(
            f"terminate: run {pathspec} did not run on Step Functions (it was started with "
            "'run'): stop it where it runs (Ctrl-C in its terminal; 'batch kill --run-id "
            f"{record.run_id}' for its Batch jobs).")
    name = deployer.deployment.name
    owner = next((t[len(_DEPLOYMENT_TAG):] for t in tags if t.startswith(_DEPLOYMENT_TAG)), name)
    if owner != name:
        raise TerminateError(
            f"terminate: run {pathspec} belongs to the deployment {owner}, not {name}: select "
            "it with the same --name/--branch/--production it was started with.")
    arn = recorded_arn(record)
    if arn is None:
        execution = next((t[len(EXECUTION_TAG):] for t in (*record.system_tags, *record.tags)
                          if t.startswith(EXECUTION_TAG)), None)
        if execution is None:
            raise TerminateError(
                f"terminate: run {pathspec} has no Step Functions execution recorded (its "
                "start task never ran): nothing of it runs.")
        arn = execution_arn(state_machine_arn, execution)
    return arn


def terminate(deployer: Any, state_machine_arn: str, flow: str, ref: str, user: str
              ) -> Terminated:
    """Stop the run's execution and its active Batch jobs (see the module docstring)."""
    run_id = run_id_of(flow, ref)
    stores = deployer.stores
    record = stores.metadata.get_run(flow, run_id)
    if record is None:
        raise TerminateError(f"terminate: run {flow}/{run_id} does not exist in "
                             f"{stores.description}.")
    arn = run_execution(deployer, state_machine_arn, record)
    pathspec = f"{flow}/{run_id}"
    status = _execution_status(deployer.sfn, arn, pathspec)
    if status == "RUNNING":
        with _aws("StopExecution", "states:StopExecution"):
            try:
                _stop_execution(deployer.sfn, arn, user)
            except deployer.sfn.exceptions.ClientError:
                status = _execution_status(deployer.sfn, arn, pathspec)
                if status == "RUNNING":
                    raise
    if status == "RUNNING":
        forget()  # readers in this process must not reuse a cached "running"
        reason = f"flowlib: run {pathspec} terminated by {user} (step-functions terminate)"
        stopped = _stop_run_jobs(deployer, arn, reason)
        _until_ended(deployer.sfn, arn)
        # A submission Step Functions had in flight when the execution stopped may land after
        # the first listing; once the execution has ended nothing more is submitted.
        stopped |= _stop_run_jobs(deployer, arn, reason, skip=stopped)
        forget()
        return Terminated(pathspec, arn, True, len(stopped),
                          shown_as=_shown_as(stores, flow, run_id))
    jobs = len(_stop_run_jobs(deployer, arn, f"flowlib: run {pathspec} had ended ({status}); "
                                             f"job left running, stopped by {user} "
                                             "(step-functions terminate)"))
    if not jobs:
        raise TerminateError(f"terminate: run {pathspec} has already ended, its execution "
                             f"{status}: {_shown_as(stores, flow, run_id)}. Nothing to "
                             "terminate.")
    return Terminated(pathspec, arn, False, jobs, status, _shown_as(stores, flow, run_id))


def stop_leftover_jobs(deployer: Any, state_machine_arn: str, origin: RunRecord) -> int:
    """Before a resume: stop the Batch jobs the origin's ended execution left running (so no
    step runs twice side by side and none writes late into the origin). An execution still
    running (a run marked failed while another branch runs) is left alone; 0 when the run has
    no execution to ask about. Raises TerminateError when AWS cannot be asked."""
    try:
        arn = run_execution(deployer, state_machine_arn, origin)
    except TerminateError:
        return 0
    pathspec = f"{origin.flow}/{origin.run_id}"
    try:
        status = _execution_status(deployer.sfn, arn, pathspec)
    except _NoExecution:  # never started, or its state machine is gone: nothing to find
        return 0
    if status == "RUNNING":
        return 0
    return len(_stop_run_jobs(deployer, arn, f"flowlib: run {pathspec} is being resumed; its "
                                             f"execution ended ({status})"))


@contextmanager
def _aws(operation: str, permission: str) -> Iterator[None]:
    """An AWS refusal or outage as one sentence naming the call and the permission."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise TerminateError(
            f"AWS refused {operation} ({error.get('Code')}: {error.get('Message')}); "
            f"the profile's credentials need {permission}.") from None
    except BotoCoreError as exc:
        raise TerminateError(f"AWS {operation} failed: {exc}; try again.") from None


def _execution_status(sfn: Any, arn: str, pathspec: str) -> str:
    with _aws("DescribeExecution", "states:DescribeExecution"):
        try:
            return str(sfn.describe_execution(executionArn=arn)["status"])
        except sfn.exceptions.ExecutionDoesNotExist:
            raise _NoExecution(
                f"terminate: the execution of run {pathspec} ({arn.rsplit(':', 1)[-1]}) does "
                "not exist: it never started, or its state machine was deleted.") from None


def _stop_execution(sfn: Any, arn: str, user: str) -> None:
    sfn.stop_execution(executionArn=arn, error=TERMINATED_ERROR,
                       cause=f"terminated by {user} with 'step-functions terminate'")


def _until_ended(sfn: Any, arn: str, patience: float = STOP_PATIENCE) -> None:
    """Wait (briefly) until Step Functions reports the stopped execution ended, so the run's
    status printed next is the one every reader now sees. AWS reports ABORTED as soon as
    StopExecution returns; moto only once the task it waits on has ended."""
    deadline = time.monotonic() + patience
    with _aws("DescribeExecution", "states:DescribeExecution"):
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" \
                and time.monotonic() < deadline:
            time.sleep(0.5)


def _stop_run_jobs(deployer: Any, arn: str, reason: str,
                   skip: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """Stop the execution's active jobs (but those in ``skip``); their ids."""
    batch = deployer.aws.client("batch")
    with _aws("DescribeStateMachineForExecution", "states:DescribeStateMachineForExecution"):
        queues = run_jobs.execution_queues(deployer.sfn, arn)
    machine = arn.split(":")[-2]  # ...:execution:<state machine>:<execution>
    with _aws("ListJobs/DescribeJobs", "batch:ListJobs and batch:DescribeJobs"):
        found = [job for job in run_jobs.active_jobs(batch, queues, machine,
                                                     arn.rsplit(":", 1)[-1])
                 if job.job_id not in skip]
    with _aws("TerminateJob", "batch:TerminateJob"):
        run_jobs.stop_jobs(batch, found, reason)
    return {job.job_id for job in found}


def _shown_as(stores: Any, flow: str, run_id: str) -> str:
    """The run's status as every reader shows it now: ``crashed (<reason>)``, ``failed``..."""
    record = stores.metadata.get_run(flow, run_id)
    if record is None:
        return "unknown"
    live = run_liveness(record)
    return f"{live.status} ({live.reason})" if live.reason else str(live.status)
