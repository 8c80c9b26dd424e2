"""``init``, ``plan``, ``apply``, ``destroy`` and ``force-unlock``: options, questions and
printing. What they do is in ``platform_cli.lifecycle``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from platform_cli import environments as envs
from platform_cli.commands.common import (
    ENV_ARG,
    confirm,
    print_check,
    summarise_changes,
    var_options,
    yes_option,
)
from platform_cli.errors import PlatformError
from platform_cli.output import info


def _confirm_plan(verb: str, env: str, yes: bool) -> Any:
    def ask(plan: Any) -> bool:
        for line in summarise_changes(plan):
            info(line)
        confirm(f"{verb} these changes to environment '{env}'?", yes)
        return True

    return ask


def _report(result: Any, what: str) -> None:
    """The doctor's lines; a non-zero exit when a check failed."""
    for check in result.checks:
        print_check(check)
    if result.failed_checks:
        raise PlatformError(
            f"Environment '{result.env}' is provisioned but {len(result.failed_checks)} doctor "
            f"check(s) failed{what}.",
            hint=f"see the lines above; `platform doctor {result.env}` re-checks")


@click.command("init")
@ENV_ARG
@click.option("--region", help="AWS region (default: AWS_REGION / the AWS config).")
@var_options
@yes_option
def init(env: str, region: str | None, var_files: tuple[Path, ...], sets: tuple[str, ...],
         unsets: tuple[str, ...], yes: bool) -> None:
    """Create ENV (or resume it) and write its flowlib profile.

    Checks credentials and tools, creates the state bucket if needed, plans, asks, applies,
    writes the flowlib profile ENV and runs the doctor. Re-running on a healthy environment
    changes nothing; after a failed or interrupted apply it continues from the saved state.

    \b
    Example:
        platform init dev --region eu-west-1 --yes
        platform init ml-prod --var-file prod.tfvars --set enable_eks=true
    """
    from platform_cli import lifecycle, profiles

    result = lifecycle.init_environment(env, region, var_files, sets, unsets,
                                        confirm=_confirm_plan("Create", env, yes))
    _report(result, "")
    state = "ready" if result.changed else "already up to date, nothing changed"
    info(f"\nEnvironment '{env}' is {state} ({result.elapsed:.0f}s). Next:")
    _, default = profiles.all_profiles()
    prefix = "" if default == env else f"FLOWLIB_PROFILE={env} "
    click.echo(f"    {prefix}python flow.py run")


@click.command("plan")
@ENV_ARG
@var_options
def plan(env: str, var_files: tuple[Path, ...], sets: tuple[str, ...],
         unsets: tuple[str, ...]) -> None:
    """Show what `platform apply ENV` would change (nothing is changed).

    \b
    Example:
        platform plan dev --set enable_eks=true
    """
    from platform_cli import lifecycle

    result = lifecycle.plan_environment(env, var_files, sets, unsets)
    if not result.changed:
        click.echo(f"No changes: environment '{env}' matches the code.")
        return
    for line in summarise_changes(result):
        click.echo(line)
    for change in result.changes:
        click.echo(f"  {change['action']:<8} {change['address']}")


@click.command("apply")
@ENV_ARG
@var_options
@yes_option
def apply(env: str, var_files: tuple[Path, ...], sets: tuple[str, ...],
          unsets: tuple[str, ...], yes: bool) -> None:
    """Apply changes to ENV: new variables, or a new version of the modules.

    \b
    Example:
        platform apply dev --set batch_default_compute_environment=cpu --yes
    """
    from platform_cli import lifecycle

    result = lifecycle.apply_environment(env, var_files, sets, unsets,
                                         confirm=_confirm_plan("Apply", env, yes))
    _report(result, " after the apply")


@click.command("destroy")
@ENV_ARG
@click.option("--delete-data", is_flag=True,
              help="Also delete artifacts, metadata records and images (otherwise destroy "
                   "refuses while the bucket or the table holds data).")
@yes_option
def destroy(env: str, delete_data: bool, yes: bool) -> None:
    """Tear ENV down, then remove its flowlib profile.

    Shows what will go and asks for the environment's name to be typed; for names like
    prod the name is asked even with --yes (pipe it on stdin in automation).

    \b
    Example:
        platform destroy dev --delete-data --yes
    """
    from platform_cli import lifecycle

    def ask(resources: list[str]) -> bool:
        info(f"Environment '{env}': {len(resources)} resource(s) will be destroyed"
             + (", with all data" if delete_data else "") + ":")
        for address in resources:
            info(f"  - {address}")
        if yes and not envs.is_prod_like(env):
            return True
        try:
            typed = click.prompt(f"Type the environment's name ({env}) to destroy it",
                                 default="", show_default=False, err=True)
        except click.Abort:
            typed = ""
        return typed.strip() == env

    result = lifecycle.destroy_environment(env, delete_data, confirm=ask)
    info(f"ok   destroyed {result.destroyed} resource(s) in {result.elapsed:.0f}s"
         + (f"; flowlib profile '{env}' removed" if result.profile_removed else ""))
    click.echo(f"Environment '{env}' is gone.")


@click.command("force-unlock")
@ENV_ARG
@click.argument("lock_id")
@yes_option
def force_unlock(env: str, lock_id: str, yes: bool) -> None:
    """Release the state lock LOCK_ID of ENV, left behind by a killed run.

    Only when no other run is active: unlocking under a live run can corrupt the state.

    \b
    Example:
        platform force-unlock dev 5f1c2a9e-...
    """
    from platform_cli import lifecycle

    envs.require_record(env)
    confirm(f"Release lock {lock_id} of '{env}'? Make sure no other run is active.", yes)
    lifecycle.force_unlock(env, lock_id)
    click.echo(f"Lock {lock_id} of '{env}' released.")
