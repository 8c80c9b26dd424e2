"""``platform secrets set|list|delete``: a thin click layer over ``platform_cli.secrets``."""

from __future__ import annotations

from pathlib import Path

import click

from platform_cli import secrets as api
from platform_cli.commands.common import ENV_ARG, yes_option
from platform_cli.errors import PlatformError
from platform_cli.output import emit_json, info, output_option, table

STORE_OPTION = click.option(
    "--store", type=click.Choice(api.STORES), default=None,
    help="secretsmanager (default for set): flowlib/ENV/NAME; ssm: Parameter Store "
         "/flowlib/ENV/NAME as a SecureString.")


@click.group("secrets")
def secrets() -> None:
    """Manage an environment's secrets (Secrets Manager / Parameter Store, under flowlib/ENV/).

    Steps read them with @secrets(sources=[...]); the task role may read its environment's
    prefix only. Values are never printed.

    \b
    Example:
        printf %s "$TOKEN" | platform secrets set dev hub-token --value -
        platform secrets list dev
    """


@secrets.command("set")
@ENV_ARG
@click.argument("name")
@click.option("--from-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the value from this file (a JSON object gives one variable per key).")
@click.option("--value", metavar="-", help="Read the value from stdin: only '-' is accepted.")
@STORE_OPTION
def set_(env: str, name: str, from_file: Path | None, value: str | None,
         store: str | None) -> None:
    """Create or update secret NAME of ENV (flowlib/ENV/NAME), encrypted with ENV's key.

    A JSON object value becomes one environment variable per key in the step; any other
    value one variable named after NAME (hub-token gives HUB_TOKEN).

    \b
    Example:
        platform secrets set dev warehouse --from-file warehouse.json
        printf %s "$URL" | platform secrets set dev db-url --value - --store ssm
    """
    store = store or api.SECRETS_MANAGER
    api.check_name(name, store)
    text = api.read_value(from_file, value)
    target = api.target_for(env)
    variables = api.check_value(target, name, store, text)
    source, created = api.set_secret(target, name, text, store)
    info(f"{'Created' if created else 'Updated'} {source} (variables: {', '.join(variables)}).")
    info(f"Use it in a step with: @secrets(sources=[\"{source}\"])")


@secrets.command("list")
@ENV_ARG
@output_option
def list_(env: str, output: str) -> None:
    """Names and last change of ENV's secrets, in both stores; never their values.

    \b
    Example:
        platform secrets list dev --output json
    """
    entries = api.list_secrets(api.target_for(env))
    if output == "json":
        emit_json({"environment": env, "secrets": [e.to_dict() for e in entries]})
        return
    if not entries:
        info(f"No secrets under flowlib/{env}/ yet: `platform secrets set {env} NAME ...`.")
        return
    click.echo(table(["NAME", "STORE", "SOURCE (for @secrets)", "LAST CHANGED"],
                     [[e.name, e.store, e.source, e.last_changed] for e in entries]))


@secrets.command("delete")
@ENV_ARG
@click.argument("name")
@STORE_OPTION
@click.option("--recovery-days", type=click.IntRange(7, 30), default=7, show_default=True,
              help="Secrets Manager keeps a deleted secret this long (`set` restores it).")
@click.option("--now", "immediately", is_flag=True,
              help="Delete from Secrets Manager without a recovery window.")
@yes_option
def delete(env: str, name: str, store: str | None, recovery_days: int, immediately: bool,
           yes: bool) -> None:
    """Delete secret NAME of ENV; steps naming it then fail at start, naming it.

    \b
    Example:
        platform secrets delete dev hub-token --yes
    """
    from platform_cli import environments as envs

    target = api.target_for(env)
    held = [store] if store else api.stores_holding(target, name)
    if not held:
        raise PlatformError(f"No secret '{name}' under flowlib/{env}/ in either store.",
                            hint=f"`platform secrets list {env}` shows what exists")
    if len(held) > 1:
        raise PlatformError(f"'{name}' exists in both Secrets Manager and Parameter Store.",
                            hint="choose one with --store secretsmanager or --store ssm")
    chosen = held[0]
    source = target.source(name, chosen)
    if not yes:
        if envs.is_prod_like(env):
            typed = click.prompt(f"Delete {source} from production-like '{env}'? Type the "
                                 "environment's name to confirm", default="", show_default=False)
            if typed != env:
                raise PlatformError("Not confirmed; nothing was deleted.")
        elif not click.confirm(f"Delete {source}?", default=False):
            raise PlatformError("Not confirmed; nothing was deleted.")
    api.delete_secret(target, name, chosen, None if immediately else recovery_days)
    info(f"Deleted {source}" + ("" if immediately or chosen == api.PARAMETER_STORE else
                                f" (recoverable for {recovery_days} days)") + ".")
