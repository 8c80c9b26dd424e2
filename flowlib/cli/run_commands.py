"""Commands that run or check the flow: run, resume, step (standalone task), check, show."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from flowlib.exceptions import FlowlibError
from flowlib.parameters import flow_parameters

_RUN_OPTIONS = {
    "tag",
    "max-workers",
    "max_workers",
    "max-num-splits",
    "max_num_splits",
    "with",
    "quiet",
    "launcher",
    "help",
    "origin-run-id",
    "origin_run_id",
    "run-id-file",
    "run_id_file",
    "max-loop-iterations",
    "max_loop_iterations",
}


def _common_run_options(func: Callable) -> Callable:
    options = [
        click.option("--tag", "tags", multiple=True, help="Tag the run (repeatable)."),
        click.option(
            "--max-workers",
            default=16,
            show_default=True,
            type=click.IntRange(1),
            help="Tasks run in parallel at most.",
        ),
        click.option(
            "--max-num-splits",
            default=100,
            show_default=True,
            type=click.IntRange(1),
            help="Largest foreach fan-out allowed.",
        ),
        click.option(
            "--with",
            "with_decorators",
            multiple=True,
            metavar="DECORATOR[:k=v,...]",
            help="Add a decorator to every step, e.g. --with retry:times=2.",
        ),
        click.option("--quiet", is_flag=True, help="Print only task output and errors."),
        click.option(
            "--max-loop-iterations",
            default=1000,
            show_default=True,
            type=click.IntRange(1),
            help="Times a recursive switch may repeat its step before the run fails.",
        ),
        click.option(
            "--run-id-file",
            type=click.Path(dir_okay=False),
            help="Write the run's id to this file as soon as the run starts.",
        ),
        click.option(
            "--launcher",
            type=click.Choice(["fork", "subprocess"]),
            default="fork",
            hidden=True,
            help="How local tasks start (subprocess: standalone command).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _options(kwargs: dict[str, Any], origin: str | None = None, step: str | None = None) -> Any:
    from flowlib.decorators import parse_with_option
    from flowlib.runtime.run import RunOptions

    return RunOptions(
        tags=list(kwargs.pop("tags")),
        max_workers=kwargs.pop("max_workers"),
        max_num_splits=kwargs.pop("max_num_splits"),
        decorators=[parse_with_option(s) for s in kwargs.pop("with_decorators")],
        quiet=kwargs.pop("quiet"),
        launcher=kwargs.pop("launcher"),
        run_id_file=kwargs.pop("run_id_file"),
        max_loop_iterations=kwargs.pop("max_loop_iterations"),
        origin_run_id=origin,
        resume_step=step,
    )


def _top_level(ctx: Any, kwargs: dict[str, Any]) -> None:
    """Fold Metaflow-style top-level --quiet / --with into the command's own options."""
    kwargs["quiet"] = kwargs["quiet"] or ctx.quiet
    kwargs["with_decorators"] = (*ctx.top_with, *kwargs["with_decorators"])


def run_command(flow_cls: type) -> click.Command:
    params = flow_parameters(flow_cls)

    @click.command(
        "run",
        help="Start a new run. Parameters are given as options.\n\n"
        "Example: python flow.py run --max-workers 4 --tag experiment-1",
    )
    @_common_run_options
    @click.pass_obj
    def run(ctx: Any, **kwargs: Any) -> None:
        from flowlib.runtime.run import execute_run

        graph = ctx.validated_graph()
        _top_level(ctx, kwargs)
        options = _options(kwargs)
        execute_run(ctx.flow_cls, graph, kwargs, options)

    for attr, param in reversed(list(params.items())):
        if param.name in _RUN_OPTIONS or attr in _RUN_OPTIONS:
            raise FlowlibError(
                f"Parameter '{param.name}' clashes with the run option --{param.name}; rename it."
            )
        names = {f"--{param.name}", f"--{param.name.replace('_', '-')}"}
        run = click.option(*sorted(names), attr, default=None, help=param.option_help())(run)
    return run


def resume_command() -> click.Command:
    @click.command(
        "resume",
        help="Start a new run that reuses every task that succeeded in an earlier run and re-runs "
        "the rest. With STEP, re-run STEP and everything after it.\n\n"
        "Example: python flow.py resume --origin-run-id 12",
    )
    @click.argument("step", required=False)
    @click.option("--origin-run-id", help="Run to resume (default: the latest run of the flow).")
    @_common_run_options
    @click.pass_obj
    def resume(ctx: Any, step: str | None, origin_run_id: str | None, **kwargs: Any) -> None:
        from flowlib.runtime.run import execute_run
        from flowlib.stores import open_stores

        graph = ctx.validated_graph()
        if origin_run_id is None:
            latest = next(iter(open_stores().metadata.list_runs(ctx.name, limit=1)), None)
            if latest is None:
                raise FlowlibError(f"resume: {ctx.name} has no runs yet; use 'run' first.")
            origin_run_id = latest.run_id
        _top_level(ctx, kwargs)
        options = _options(kwargs, origin_run_id, step)
        execute_run(ctx.flow_cls, graph, {}, options)

    return resume


def step_command() -> click.Command:
    @click.command(
        "step",
        help="Run one task attempt standalone, as remote backends do (internal).\n\n"
        "Example: python flow.py step train --run-id 3 --task-id 5 --attempt 0",
    )
    @click.argument("step_name")
    @click.option("--run-id", required=True, help="Run the task belongs to.")
    @click.option("--task-id", required=True, help="Task id registered by the run.")
    @click.option("--attempt", type=int, default=0, show_default=True, help="Attempt number.")
    @click.option("--max-num-splits", type=int, default=100, show_default=True,
                  help="Largest foreach fan-out allowed.")
    @click.option("--catch-fallback", is_flag=True, help="Run @catch's fallback attempt.")
    @click.option("--secret-source", "secret_sources", multiple=True, metavar="SOURCE",
                  help="A @secrets source the task reads at start (repeatable).")
    @click.option("--env-var", "env_vars", multiple=True, metavar="NAME=VALUE",
                  help="An @environment variable of the task (repeatable).")
    @click.option("--timeout", "timeout_seconds", type=float, default=None,
                  help="@timeout: raise TimeoutException in the step after SECONDS.")
    @click.option("--catch-in-step", is_flag=True,
                  help="@catch's last attempt: handle the step's exception in the task.")
    @click.option("--catch-var", default=None, help="@catch's var.")
    @click.pass_obj
    def step(
        ctx: Any,
        step_name: str,
        run_id: str,
        task_id: str,
        attempt: int,
        max_num_splits: int,
        catch_fallback: bool,
        secret_sources: tuple[str, ...],
        env_vars: tuple[str, ...],
        timeout_seconds: float | None,
        catch_in_step: bool,
        catch_var: str | None,
    ) -> None:
        from flowlib.runtime.standalone import run_standalone

        ok = run_standalone(
            ctx.flow_cls,
            ctx.validated_graph(),
            step_name,
            run_id,
            task_id,
            attempt,
            max_num_splits,
            catch_fallback,
            secret_sources=list(secret_sources),
            env_vars=dict(v.partition("=")[::2] for v in env_vars),
            timeout_seconds=timeout_seconds,
            catch_in_step=catch_in_step,
            catch_var=catch_var,
        )
        sys.exit(0 if ok else 1)

    return step


def check_command() -> click.Command:
    @click.command(
        "check",
        help="Validate the flow's graph without running it.\n\nExample: python flow.py check",
    )
    @click.pass_obj
    def check(ctx: Any) -> None:
        graph = ctx.validated_graph()
        click.echo(f"The graph of {ctx.name} looks good: {len(graph.nodes)} steps.")

    return check


def show_command() -> click.Command:
    @click.command(
        "show", help="Print the flow's steps and transitions.\n\nExample: python flow.py show"
    )
    @click.pass_obj
    def show(ctx: Any) -> None:
        from flowlib.graph import render

        click.echo(render(ctx.graph))

    return show
