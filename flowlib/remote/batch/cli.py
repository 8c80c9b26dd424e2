"""``python flow.py batch list`` and ``batch kill``: a flow's jobs on AWS Batch.

Jobs are found by name (``flowlib-<flow>-<run>-<step>-<task>``, see ``jobs.job_name``) on the
profile's queues (``batch_job_queue`` and the ``batch_job_queues`` map) or ``--queue``. The
flow CLI adds the group on use, from the backend's entry in ``flowlib/backends.py``.
"""

from __future__ import annotations

import json
from typing import Any

import click

ACTIVE = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


def find_jobs(client: Any, queues: list[str], flow: str, run_id: str | None) -> list[dict]:
    """Job summaries of the flow (or of one run) on the queues, newest first."""
    from flowlib.remote.batch.jobs import job_name

    prefix = job_name(flow, run_id or "")
    found: dict[str, dict] = {}
    for queue in queues:
        pages = client.get_paginator("list_jobs").paginate(
            jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [f"{prefix}-*"]}])
        for page in pages:
            for job in page.get("jobSummaryList", []):
                if job["jobName"].startswith(prefix + "-"):
                    found[job["jobId"]] = {**job, "queue": queue}
    return sorted(found.values(), key=lambda j: j.get("createdAt", 0), reverse=True)


def _queues(profile: Any, explicit: tuple[str, ...]) -> list[str]:
    from flowlib.exceptions import FlowlibError

    queues = list(explicit)
    if not queues and profile is not None:
        queues = [q for q in [profile["batch_job_queue"],
                              *(profile["batch_job_queues"] or {}).values()] if q]
    if not queues:
        raise FlowlibError("No AWS Batch job queue: pass --queue or set batch_job_queue in the "
                           "profile (FLOWLIB_BATCH_JOB_QUEUE).")
    return list(dict.fromkeys(queues))


def _context(queue: tuple[str, ...]) -> tuple[Any, list[str]]:
    from flowlib.config import effective_profile
    from flowlib.remote.batch.launcher import make_clients

    profile = effective_profile()
    client, _ = make_clients(profile)
    return client, _queues(profile, queue)


def batch_group(flow_cls: type | None = None) -> click.Group:
    @click.group(name="batch", help="This flow's jobs on AWS Batch.\n\n"
                 "Example: python flow.py batch list --run-id 12")
    def group() -> None:
        pass

    @group.command(name="list", help="List the flow's jobs (of one run with --run-id).\n\n"
                   "Example: python flow.py batch list --run-id 12 --output json")
    @click.option("--run-id", default=None, help="Only this run's jobs.")
    @click.option("--queue", multiple=True, help="Queue(s) to look in (default: the profile's).")
    @click.option("--all", "show_all", is_flag=True, help="Include finished jobs.")
    @click.option("--output", type=click.Choice(["text", "json"]), default="text")
    @click.pass_obj
    def list_jobs(obj: Any, run_id: str | None, queue: tuple[str, ...], show_all: bool,
                  output: str) -> None:
        client, queues = _context(queue)
        found = [j for j in find_jobs(client, queues, obj.name, run_id)
                 if show_all or j["status"] in ACTIVE]
        if output == "json":
            click.echo(json.dumps(found, indent=2, default=str))
            return
        if not found:
            what = f"run {run_id}" if run_id else obj.name
            click.echo(f"No {'' if show_all else 'active '}AWS Batch jobs of {what}.")
            return
        click.echo(f"{'JOB ID':38} {'STATUS':10} NAME")
        for job in found:
            click.echo(f"{job['jobId']:38} {job['status']:10} {job['jobName']}")

    @group.command(name="kill", help="Stop the flow's active jobs (of one run with --run-id).\n\n"
                   "Example: python flow.py batch kill --run-id 12 --yes")
    @click.option("--run-id", default=None, help="Only this run's jobs.")
    @click.option("--queue", multiple=True, help="Queue(s) to look in (default: the profile's).")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @click.pass_obj
    def kill_jobs(obj: Any, run_id: str | None, queue: tuple[str, ...], yes: bool) -> None:
        client, queues = _context(queue)
        active = [j for j in find_jobs(client, queues, obj.name, run_id) if j["status"] in ACTIVE]
        what = f"run {obj.name}/{run_id}" if run_id else f"flow {obj.name}"
        if not active:
            click.echo(f"No active AWS Batch jobs of {what}.")
            return
        if not yes:
            click.confirm(f"Stop {len(active)} AWS Batch job(s) of {what}?", abort=True)
        for job in active:
            client.terminate_job(jobId=job["jobId"], reason=f"flowlib: batch kill of {what}")
        click.echo(f"Stopped {len(active)} AWS Batch job(s) of {what}.")

    return group
