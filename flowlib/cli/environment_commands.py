"""``python flow.py environment resolve`` and ``environment show STEP`` (@pypi/@conda)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from flowlib.exceptions import FlowlibError


def _locked(ctx: Any, report: bool) -> tuple[dict, dict]:
    from flowlib.decorators import merge_step_decorators, parse_with_option
    from flowlib.environments.prepare import lock_steps
    from flowlib.stores import open_stores

    graph = ctx.validated_graph()
    extra = [parse_with_option(s) for s in ctx.top_with]
    decorators = {node.name: merge_step_decorators(node.decorators, extra) for node in graph}
    stores = open_stores()
    stores.preflight(ctx.name)
    say = (lambda m: click.echo(m, err=True)) if report else (lambda m: None)
    specs, locks, _ = lock_steps(ctx.flow_cls, stores, decorators, say)
    return specs, locks


def environment_group() -> click.Group:
    @click.group("environment", help="Lock and inspect the steps' @pypi/@conda environments.")
    def environment() -> None:
        pass

    @environment.command(
        "resolve",
        help="Lock every step's environment with uv (already locked ones are read back) and "
        "show what was chosen.\n\nExample: python flow.py environment resolve",
    )
    @click.option("--output", type=click.Choice(["text", "json"]), default="text")
    @click.pass_obj
    def resolve(ctx: Any, output: str) -> None:
        specs, locks = _locked(ctx, report=output == "text")
        described = []
        for key, lock in locks.items():
            steps = sorted(s for s, spec in specs.items() if spec.key == key)
            described.append({**lock.spec.describe(), "steps": steps, "packages": lock.pins})
        if output == "json":
            json.dump(described, sys.stdout, indent=1, sort_keys=True)
            sys.stdout.write("\n")
            return
        if not described:
            click.echo(f"{ctx.name} has no @pypi/@conda environment: every step runs in the "
                       "launching interpreter.")
        for env in described:
            click.echo(f"Environment {env['key'][:12]} (python {env['python']}, "
                       f"{env['platform']}) for step(s) {', '.join(env['steps'])}:")
            for name, version in sorted(env["packages"].items()):
                click.echo(f"  {name}=={version}")

    @environment.command(
        "show",
        help="Print the lock of a step's environment (resolving it first if needed).\n\n"
        "Example: python flow.py environment show train",
    )
    @click.argument("step_name", metavar="STEP")
    @click.pass_obj
    def show(ctx: Any, step_name: str) -> None:
        if step_name not in {node.name for node in ctx.validated_graph()}:
            raise FlowlibError(f"environment show: {ctx.name} has no step '{step_name}'.")
        specs, locks = _locked(ctx, report=True)
        spec = specs.get(step_name)
        if spec is None:
            raise FlowlibError(
                f"environment show: step '{step_name}' has no @pypi/@conda environment (it "
                "runs in the launching interpreter)."
            )
        lock = locks[spec.key]
        click.echo(f"# environment {spec.key} (python {spec.python}, {spec.platform}); "
                   f"lock {lock.blob_key}")
        click.echo(lock.text.rstrip("\n"))

    return environment
