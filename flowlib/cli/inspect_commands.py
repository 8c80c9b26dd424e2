"""Commands that look at stored runs: logs, dump, tag."""

from __future__ import annotations

from typing import Any

import click

from flowlib.exceptions import FlowlibError


def _task_pathspecs(ctx: Any, pathspec: str) -> list[str]:
    """RUN/STEP/TASK, or RUN/STEP: every task of the step (as Metaflow's logs and dump)."""
    from flowlib.client import Step

    parts = pathspec.strip("/").split("/")
    if parts and parts[0] == ctx.name and len(parts) in (3, 4):
        parts = parts[1:]
    if len(parts) == 3 and all(parts):
        return ["/".join([ctx.name, *parts])]
    if len(parts) == 2 and all(parts):
        return [t.pathspec for t in Step("/".join([ctx.name, *parts])).tasks()]
    raise FlowlibError(
        f"'{pathspec}' is not a step or task of {ctx.name}: give RUN/STEP or RUN/STEP/TASK, "
        "e.g. 12/train or 12/train/5."
    )


def _task_pathspec(ctx: Any, pathspec: str) -> str:
    tasks = _task_pathspecs(ctx, pathspec)
    if len(tasks) != 1:
        ids = ", ".join(t.rsplit("/", 1)[1] for t in tasks)
        raise FlowlibError(
            f"Step '{pathspec}' has {len(tasks)} tasks ({ids}); name one: {pathspec}/<task id>."
        )
    return tasks[0]


def logs_command() -> click.Command:
    @click.command(
        "logs",
        help="Print the stdout and stderr of a task.\n\n"
        "Example: python flow.py logs 12/train/5 --stderr",
    )
    @click.argument("pathspec")
    @click.option("--stdout", "only_stdout", is_flag=True, help="Only stdout.")
    @click.option("--stderr", "only_stderr", is_flag=True,
                  help="Only stderr, printed on stdout (as Metaflow does) so it can be piped.")
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
                # Both logs: each on its own stream; one log asked for: on stdout.
                to_stderr = stream == "stderr" and len(streams) > 1
                click.echo(text, nl=not text.endswith("\n"), err=to_stderr)

    return logs


def dump_command() -> click.Command:
    @click.command(
        "dump",
        help="Show the artifacts of a task, or of every task of a step (name, type, size, "
        "value).\n\nExample: python flow.py dump 12/end/9 --name accuracy",
    )
    @click.argument("pathspec")
    @click.option("--name", "names", multiple=True, help="Only these artifacts (repeatable).")
    @click.option("--include", help="Only these artifacts, comma-separated, where a task has them "
                  "(Metaflow's option: a filter, so a task without them shows nothing).")
    @click.option(
        "--max-value-size",
        default=200,
        show_default=True,
        help="Characters of each value's repr to show.",
    )
    @click.option(
        "--file",
        "out_file",
        type=click.Path(dir_okay=False),
        help="Pickle {task pathspec: {name: value}} to FILE instead of printing.",
    )
    @click.option(
        "--private",
        is_flag=True,
        help="Include _private artifacts (accepted: flowlib never stores them).",
    )
    @click.pass_obj
    def dump(
        ctx: Any,
        pathspec: str,
        names: tuple[str, ...],
        include: str | None,
        max_value_size: int,
        out_file: str | None,
        private: bool,
    ) -> None:
        from flowlib.client import Task, namespace

        namespace(None)
        wanted = [*names, *(n.strip() for n in (include or "").split(",") if n.strip())]
        dumped: dict[str, dict[str, Any]] = {}
        task_paths = _task_pathspecs(ctx, pathspec)
        for task_path in task_paths:
            task = Task(task_path)
            missing = [n for n in names if n not in task]  # --name insists; --include filters
            if missing:
                raise FlowlibError(f"{task.pathspec} has no artifact {', '.join(missing)}.")
            chosen = [a for a in task if not wanted or a.id in wanted]
            if out_file:
                dumped[task.pathspec] = {a.id: a.data for a in chosen}
                continue
            for artifact in chosen:
                text = repr(artifact.data)
                if len(text) > max_value_size:
                    text = text[:max_value_size] + "..."
                prefix = f"{task.id}: " if len(task_paths) > 1 else ""
                click.echo(
                    f"{prefix}{artifact.id} ({artifact.type}, {artifact.size} bytes): {text}"
                )
        if out_file:
            import pickle

            with open(out_file, "wb") as handle:
                pickle.dump(dumped, handle)
            click.echo(f"Artifacts of {len(dumped)} task(s) written to {out_file}.")

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

    @tag.command("replace", help="Replace a run's user tag OLD with NEW.")
    @click.option("--run-id")
    @click.argument("old")
    @click.argument("new")
    @click.pass_obj
    def replace(ctx: Any, run_id: str | None, old: str, new: str) -> None:
        run = _run(ctx, run_id)
        if old not in run.user_tags:
            raise FlowlibError(f"{run.pathspec} has no user tag '{old}' to replace.")
        run.replace_tag(old, new)
        click.echo(f"{run.pathspec}: {', '.join(sorted(run.user_tags))}")

    @tag.command("list", help="List the tags of a run (default: the latest run), one a line.")
    @click.option("--run-id")
    @click.option("--system", is_flag=True, help="Include system tags.")
    @click.option("--flat", is_flag=True, help="One tag a line (Metaflow's option; the default).")
    @click.option(
        "--hide-system-tags", is_flag=True, help="Without system tags (the default)."
    )
    @click.pass_obj
    def list_tags(
        ctx: Any, run_id: str | None, system: bool, flat: bool, hide_system_tags: bool
    ) -> None:
        run = _run(ctx, run_id)
        system = system and not hide_system_tags
        for name in sorted(run.tags if system else run.user_tags):
            click.echo(name)

    return tag
