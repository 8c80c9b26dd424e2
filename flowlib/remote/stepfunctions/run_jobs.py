"""The Batch jobs of one deployed run that are still active, and stopping them.

Step Functions terminates the Batch job a ``.sync`` Task waits on when its execution is stopped
or times out, but not reliably for Map iterations and Distributed Map child executions, and
moto (the test bed) not at all. A job left running keeps writing into its old run, and a
resume would run its step again beside it. ``step-functions terminate`` and ``step-functions
resume`` stop them (``terminate``).

How a run's jobs are found: by **Batch tags**. Job names (``<deployment>-<step>``) are the same
for every run, so the compiler (``definition.run_tags``) tags each job from the state data,
evaluated by Step Functions per task (``.$`` keys in the Task's ``Parameters.Tags``):

* ``flowlib:execution``: the run's own execution name (``$$.Execution.Name`` in ``start``,
  ``$.execution`` after it, which a Distributed Map passes into its child executions, whose
  own names differ). Every task of a run has it, including the start task of a scheduled
  run, which allocates the run and so cannot know its id beforehand. The run records the
  same name (``step_functions_execution:`` tag).
* ``flowlib:run``: the run id, on every task after ``start`` (for people reading the console).

Why not the execution history (its TaskSubmitted events carry each JobId): a Distributed Map's
iterations are in child executions, reached through ListMapRuns and ListExecutions per Map
Run, per nesting level, each history paged (up to 25,000 events); tags find inline and
Distributed iterations the same way, in a few calls, and moto's Batch keeps them, so the test
bed exercises the path AWS runs.

The listing: ListJobs on each queue the execution's definition names
(DescribeStateMachineForExecution: the definition the run ran, even if the deployment has
moved to other queues since), one call chain per active status in lifecycle order (SUBMITTED
to RUNNING, so a job that moves on during the listing is still seen), keeping the jobs named
``<deployment>-*``; then DescribeJobs (100 at a time) for their tags. Permissions this needs
(the caller's credentials): ``states:DescribeStateMachineForExecution``, ``batch:ListJobs``,
``batch:DescribeJobs``, ``batch:TerminateJob``. Jobs of a deployment created before the tags
existed carry none: they are not found (re-run ``step-functions create``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

EXECUTION_TAG = "flowlib:execution"
RUN_TAG = "flowlib:run"
# Batch's job states before an outcome, in lifecycle order (see the module docstring).
ACTIVE = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
_DESCRIBE_CHUNK = 100  # DescribeJobs takes at most 100 ids


@dataclass(frozen=True)
class ActiveJob:
    job_id: str
    name: str
    status: str
    queue: str


def definition_queues(definition: dict[str, Any]) -> list[str]:
    """Every ``JobQueue`` of the definition's Batch tasks (nested branches and Map bodies
    included), in order of appearance."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            queue = value.get("JobQueue")
            if isinstance(queue, str) and queue not in found:
                found.append(queue)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(definition)
    return found


def execution_queues(sfn: Any, execution_arn: str) -> list[str]:
    """The queues the definition an execution ran submits to."""
    described = sfn.describe_state_machine_for_execution(executionArn=execution_arn)
    return definition_queues(json.loads(described["definition"]))


def active_jobs(batch: Any, queues: list[str], deployment: str, execution: str
                ) -> list[ActiveJob]:
    """The still-active Batch jobs of the run whose execution is named ``execution``, on
    ``queues``, among the jobs of the state machine ``deployment`` (see the module docstring).
    """
    prefix = f"{deployment}-"
    candidates: dict[str, ActiveJob] = {}
    for queue in queues:
        for status in ACTIVE:
            pages = batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status)
            for page in pages:
                for job in page.get("jobSummaryList", []):
                    if job["jobName"].startswith(prefix):
                        candidates.setdefault(job["jobId"], ActiveJob(
                            job["jobId"], job["jobName"], job.get("status", status), queue))
    ids = list(candidates)
    found = []
    for start in range(0, len(ids), _DESCRIBE_CHUNK):
        described = batch.describe_jobs(jobs=ids[start:start + _DESCRIBE_CHUNK])["jobs"]
        for job in described:
            if (job.get("tags") or {}).get(EXECUTION_TAG) == execution \
                    and job.get("status") in ACTIVE:
                seen = candidates[job["jobId"]]
                found.append(ActiveJob(seen.job_id, seen.name, job["status"], seen.queue))
    return sorted(found, key=lambda j: (j.name, j.job_id))


def stop_jobs(batch: Any, jobs: list[ActiveJob], reason: str) -> int:
    """TerminateJob each job (a job that ended meanwhile is not affected); returns how many
    were asked to stop."""
    for job in jobs:
        batch.terminate_job(jobId=job.job_id, reason=reason[:1024])
    return len(jobs)
