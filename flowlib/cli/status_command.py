"""``python flow.py status``: how a run stands, including runs whose runtime died."""

from __future__ import annotations

from typing import Any

import click

from flowlib.exceptions import FlowlibError
from flowlib.metadata.liveness import CRASHED


def describe_run(run: Any) -> str:
    """One line: the run's status, with when a crashed run was last seen and how to go on."""
    status = run.status
    line = f"Run {run.pathspec}: {status}"
    if status == CRASHED:
        # Its runtime stopped sending heartbeats (with when it was last seen), or its
        # orchestrator ended its execution (flowlib.metadata.liveness).
        reason = run.status_reason
        resume = ("step-functions resume" if "runtime:step-functions" in run.system_tags
                  else "resume")
        line += f" ({reason}). Continue it with: {resume} --origin-run-id {run.id}"
    elif status in ("failed", "interrupted"):
        line += f". Continue it with: resume --origin-run-id {run.id}"
    elif run.finished_at is not None:
        line += f" (finished {run.finished_at:%Y-%m-%d %H:%M:%S} UTC)"
    return line


def status_command() -> click.Command:
    @click.command(
        "status",
        help="Show the status of recent runs (running, succeeded, failed, interrupted or "
        "crashed).\n\nExample: python flow.py status --run-id 12",
    )
    @click.option("--run-id", help="Only this run.")
    @click.option("--limit", default=5, show_default=True, type=click.IntRange(1),
                  help="How many recent runs to show.")
    @click.pass_obj
    def status(ctx: Any, run_id: str | None, limit: int) -> None:
        from flowlib.client import Flow, Run, namespace
        from flowlib.exceptions import NotFoundError

        namespace(None)
        if run_id is not None:
            runs = [Run(f"{ctx.name}/{run_id}")]
        else:
            try:
                flow = Flow(ctx.name)
            except NotFoundError:
                raise FlowlibError(f"{ctx.name} has no runs yet.") from None
            runs = [run for _, run in zip(range(limit), flow.runs(), strict=False)]
        for run in runs:
            click.echo(describe_run(run))

    return status
