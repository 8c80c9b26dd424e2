"""Commands that look at stored runs: logs, dump, tag."""

from __future__ import annotations

from typing import Any

import click

from flowlib.exceptions import FlowlibError


def _task_pathspec(ctx: Any, pathspec: str) -> str:
    parts = pathspec.strip("/").split("/")
    if len(parts) == 3:
        parts = [ctx.name, *parts]
    if len(parts) != 4 or parts[0] != ctx.name:
        raise FlowlibError(
            f"'{pathspec}' is not a task of {ctx.name}: give RUN/STEP/TASK, e.g. 12/train/5."
        )
    return "/".join(parts)


def logs_command() -> click.Command:
    @click.command(
        "logs",
        help="Print the stdout and stderr of a task.\n\n"
        "Example: python flow.py logs 12/train/5 --stderr",
    )
    @click.argument("pathspec")
    @click.option("--stdout", "only_stdout", is_flag=True, help="Only stdout.")
    @click.option("--stderr", "only_stderr", is_flag=True, help="Only stderr.")
    @click.option("--attempt", type=int, help="Attempt number (default: the latest).")
    @click.pass_obj
    def logs(
        ctx: Any, pathspec: str, only_stdout: bool, only_stderr: bool, attempt: int | None
    ) -> None:
        from flowlib.client import Task, namespace

        namespace(None)
        task = Task(_task_pathspec(ctx, pathspec))
        streams = ["stdout"] if only_stdout else ["stderr"] if only_stderr else ["stdout", "stderr"]
        for stream in streams:
            text = task.log(stream, attempt)
            if text:
                click.echo(text, nl=not text.endswith("\n"), err=stream == "stderr")

    return logs


def dump_command() -> click.Command:
    @click.command(
        "dump",
        help="Show the artifacts of a task (name, type, size, value).\n\n"
        "Example: python flow.py dump 12/end/9 --name accuracy",
    )
    @click.argument("pathspec")
    @click.option("--name", "names", multiple=True, help="Only these artifacts (repeatable).")
    @click.option(
        "--max-value-size",
        default=200,
        show_default=True,
        help="Characters of each value's repr to show.",
    )
    @click.pass_obj
    def dump(ctx: Any, pathspec: str, names: tuple[str, ...], max_value_size: int) -> None:
        from flowlib.client import Task, namespace

        namespace(None)
        task = Task(_task_pathspec(ctx, pathspec))
        missing = [n for n in names if n not in task]
        if missing:
            raise FlowlibError(f"{task.pathspec} has no artifact {', '.join(missing)}.")
        for artifact in task:
            if names and artifact.id not in names:
                continue
            text = repr(artifact.data)
            if len(text) > max_value_size:
                text = text[:max_value_size] + "..."
            click.echo(f"{artifact.id} ({artifact.type}, {artifact.size} bytes): {text}")

    return dump


def tag_group() -> click.Group:
    @click.group(
        "tag",
        help="Add, remove or list a run's tags.\n\n"
        "Example: python flow.py tag add --run-id 12 best",
    )
    def tag() -> None:
        pass

    def _run(ctx: Any, run_id: str | None) -> Any:
        from flowlib.client import Flow, Run, namespace

        namespace(None)
        if run_id is None:
            latest = Flow(ctx.name).latest_run
            if latest is None:
                raise FlowlibError(f"{ctx.name} has no runs.")
            return latest
        return Run(f"{ctx.name}/{run_id}")

    @tag.command("add", help="Add tags to a run (default: the latest run).")
    @click.option("--run-id")
    @click.argument("tags", nargs=-1, required=True)
    @click.pass_obj
    def add(ctx: Any, run_id: str | None, tags: tuple[str, ...]) -> None:
        run = _run(ctx, run_id)
        run.add_tags(list(tags))
        click.echo(f"{run.pathspec}: {', '.join(sorted(run.user_tags))}")

    @tag.command("remove", help="Remove tags from a run (system tags stay).")
    @click.option("--run-id")
    @click.argument("tags", nargs=-1, required=True)
    @click.pass_obj
    def remove(ctx: Any, run_id: str | None, tags: tuple[str, ...]) -> None:
        run = _run(ctx, run_id)
        run.remove_tags(list(tags))
        click.echo(f"{run.pathspec}: {', '.join(sorted(run.user_tags)) or '(no user tags)'}")

    @tag.command("list", help="List the tags of a run (default: the latest run).")
    @click.option("--run-id")
    @click.option("--system", is_flag=True, help="Include system tags.")
    @click.pass_obj
    def list_tags(ctx: Any, run_id: str | None, system: bool) -> None:
        run = _run(ctx, run_id)
        for name in sorted(run.tags if system else run.user_tags):
            click.echo(name)

    return tag
