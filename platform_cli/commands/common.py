"""What several commands share: options, questions and printing.

Preparing and running Terraform lives in ``platform_cli.lifecycle`` (re-exported here for
commands that need a prepared runner, such as ``status``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from platform_cli import environments as envs
from platform_cli.errors import PlatformError
from platform_cli.lifecycle import FAIL, OK, Prepared, preflight, prepare  # noqa: F401
from platform_cli.output import info


def _valid_env(ctx: click.Context, param: click.Parameter, value: str) -> str:
    return envs.validate_name(value)


# Every command taking an environment name checks it (full match) before doing anything.
ENV_ARG = click.argument("env", metavar="ENV", callback=_valid_env)


def yes_option(f: Any) -> Any:
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(f)


def var_options(f: Any) -> Any:
    f = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="A root stack variable; JSON values are typed (true, 3, {...}). "
                          "Remembered for later commands.")(f)
    f = click.option("--unset", "unsets", multiple=True, metavar="KEY",
                     help="Forget a remembered --set value (the variable's default applies).")(f)
    f = click.option("--var-file", "var_files", multiple=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="A .tfvars or .tfvars.json file (repeatable). Remembered.")(f)
    return f


def summarise_changes(plan: Any, limit: int = 40) -> list[str]:
    counts = plan.counts
    lines = [f"Plan: {counts.get('create', 0)} to create, {counts.get('update', 0)} to update, "
             f"{counts.get('replace', 0)} to replace, {counts.get('delete', 0)} to destroy."]
    by_type: dict[tuple[str, str], int] = {}
    for change in plan.changes:
        key = (change["action"], change["type"])
        by_type[key] = by_type.get(key, 0) + 1
    symbols = {"create": "+", "update": "~", "delete": "-", "replace": "-/+"}
    for (action, kind), n in sorted(by_type.items())[:limit]:
        lines.append(f"  {symbols.get(action, '?'):>3} {n:>3} x {kind}")
    return lines


def print_check(check: Any) -> None:
    info(f"{OK if check.ok else FAIL} {check.name}: {check.detail}")
    if not check.ok and check.hint:
        info(f"       hint: {check.hint}")


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    try:
        answer = click.confirm(question, default=False, err=True)
    except click.Abort:
        answer = False
    if not answer:
        raise PlatformError("Aborted: nothing was changed.")
