"""``platform gc ENV``: flowlib's retention gc on an environment's stores (its flowlib profile),
confirmed by typing the environment's name. The logic is ``flowlib.retention``; this is the
operator's entry point (gc needs delete rights the task role does not have)."""

from __future__ import annotations

import click

from platform_cli import environments as envs
from platform_cli.commands.common import ENV_ARG
from platform_cli.errors import PlatformError, UnknownEnvironmentError


@click.command("gc")
@ENV_ARG
@click.option("--flow", "flows", multiple=True, help="Only this flow (repeatable).")
@click.option("--keep-last", type=int, default=None,
              help="Keep the last N runs per flow and @project branch.")
@click.option("--keep-days", type=float, default=None, help="Keep runs younger than D days.")
@click.option("--grace-hours", type=float, default=None,
              help="Delete only blobs older than this (longer than the longest run).")
@click.option("--delete-all", is_flag=True, help="Allow --keep-last 0 with no --keep-days.")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--yes", is_flag=True, help="Do not ask for the environment's name.")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def gc(ctx: click.Context, env: str, flows: tuple[str, ...], keep_last: int | None,
       keep_days: float | None, grace_hours: float | None, delete_all: bool, dry_run: bool,
       yes: bool, output: str) -> None:
    """Delete runs the environment's retention policy does not keep, and unreferenced blobs.

    The policy is the profile's (retention_keep_last / retention_keep_days); flags override
    it. Run with an operator's credentials: the task role may not delete.

    Example: platform gc prod --keep-last 50 --dry-run
    """
    from flowlib.config import load_config, profile_names
    from flowlib.retention.cli import gc_command

    envs.validate_name(env)
    if env not in profile_names(load_config()):
        raise UnknownEnvironmentError(
            f"No flowlib profile '{env}' on this machine.",
            hint=f"`platform init {env}` or `platform configure import` writes it",
        )
    if not dry_run and not yes:
        typed = click.prompt(
            f"gc deletes runs and artifacts of environment '{env}'. Type its name to confirm",
            default="", show_default=False,
        )
        if typed != env:
            raise PlatformError("Not confirmed: nothing was deleted.",
                                hint="type the environment's name, or pass --yes")
    ctx.invoke(gc_command, profile=env, flows=flows, keep_last=keep_last, keep_days=keep_days,
               grace_hours=grace_hours, delete_all=delete_all, dry_run=dry_run,
               yes=not dry_run, output=output)
