"""``env list|show|use|export`` and ``configure import``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from platform_cli import environments as envs
from platform_cli.commands.common import ENV_ARG
from platform_cli.errors import PlatformError
from platform_cli.output import emit_json, info, output_option, table


@click.group("env")
def env() -> None:
    """List, show, export and select environments.

    Example: platform env list
    """


def _remote(region: str | None) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Environments in this account's state bucket; (found, reason when not looked)."""
    from platform_cli import state_backend
    from platform_cli.preflight import resolve_region, who_am_i

    try:
        region = resolve_region(region)
        identity = who_am_i(region)
        bucket = state_backend.bucket_name(identity.account_id, region)
        return state_backend.list_remote(region, bucket), None
    except PlatformError as exc:
        return {}, str(exc)
    except Exception as exc:  # noqa: BLE001 - a missing bucket etc.: list what is local
        return {}, f"{type(exc).__name__}: {exc}"


@env.command("list")
@click.option("--region", help="Region whose state bucket is searched too (default: "
                               "AWS_REGION).")
@click.option("--local", "local_only", is_flag=True, help="Only this machine; no AWS call.")
@output_option
def list_(region: str | None, local_only: bool, output: str) -> None:
    """Every environment known here or found in the state bucket, with its status.

    Example: platform env list --output json
    """
    from platform_cli import profiles

    rows: dict[str, dict[str, Any]] = {}
    for name in envs.local_names():
        record = envs.load_record(name)
        assert record is not None
        rows[name] = {"name": name, "region": record.region, "account": record.account_id,
                      "status": record.last_status, "where": "local"}
    note = None
    if not local_only:
        remote, note = _remote(region)
        for name, objects in remote.items():
            entry = rows.setdefault(name, {"name": name, "region": region, "account": None,
                                           "status": "remote only", "where": "state bucket"})
            if entry["where"] == "local":
                entry["where"] = "local+state bucket"
            if "terraform.tfstate" not in objects:
                entry["status"] = "no state"
    try:
        configured, default = profiles.all_profiles()
    except Exception:  # noqa: BLE001 - a corrupt config file is reported by other commands
        configured, default = {}, None
    for name, entry in rows.items():
        entry["profile"] = name in configured
        entry["default"] = name == default
    items = sorted(rows.values(), key=lambda r: r["name"])
    if output == "json":
        emit_json({"environments": items, "state_bucket_note": note})
        return
    if not items:
        click.echo("No environments. Create one with `platform init dev`.")
    else:
        click.echo(table(["NAME", "STATUS", "REGION", "ACCOUNT", "WHERE", "PROFILE"], [
            [r["name"] + (" *" if r["default"] else ""), r["status"], r["region"],
             r["account"], r["where"], "yes" if r["profile"] else "no"] for r in items]))
    if note:
        info(f"note: state bucket not searched ({note})")


@env.command("show")
@ENV_ARG
@output_option
def show(env: str, output: str) -> None:
    """Outputs of ENV's stack (from its state) and its flowlib profile.

    Example: platform env show dev --output json
    """
    from platform_cli import profiles, state_backend
    from platform_cli.preflight import who_am_i

    record = envs.require_record(env)
    who_am_i(record.region, record.account_id)
    state = state_backend.read_state(record.region, record.state_bucket, record.state_key)
    outputs = {k: v.get("value") for k, v in (state or {}).get("outputs", {}).items()}
    data = {"environment": env, "record": record.to_dict(), "outputs": outputs,
            "profile": profiles.read(env),
            "resources": sum(len(r.get("instances", [])) for r in (state or {}).get(
                "resources", []) if r.get("mode") == "managed")}
    if output == "json":
        emit_json(data)
        return
    click.echo(f"Environment {env}: {record.last_status}, account {record.account_id}, "
               f"{record.region}, {data['resources']} resources")
    click.echo(f"State: s3://{record.state_bucket}/{record.state_key}")
    click.echo("Outputs:")
    for key, value in sorted(outputs.items()):
        click.echo(f"  {key} = {json.dumps(value)}")
    click.echo(f"Profile '{env}':")
    for key, value in sorted((data["profile"] or {}).items()):
        click.echo(f"  {key} = {json.dumps(value)}")


@env.command("use")
@ENV_ARG
def use(env: str) -> None:
    """Make ENV's profile flowlib's default profile.

    Example: platform env use dev
    """
    from platform_cli import profiles

    envs.validate_name(env)
    path = profiles.use(env)
    click.echo(f"flowlib now uses profile '{env}' by default ({path}).")


@env.command("export")
@ENV_ARG
@click.option("--file", "-f", "target", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: stdout).")
def export(env: str, target: Path | None) -> None:
    """Write ENV's flowlib profile for a data scientist (no secrets in it).

    \b
    Example:
        platform env export dev -f dev-profile.json
        # then, on their machine: platform configure import dev-profile.json
    """
    from platform_cli import profiles

    envs.validate_name(env)
    data = profiles.export(env)
    text = json.dumps(data, indent=2) + "\n"
    if target is None:
        click.echo(text, nl=False)
    else:
        target.write_text(text)
        info(f"profile '{env}' written to {target}")


@click.group("configure")
def configure() -> None:
    """Set up flowlib profiles without admin rights.

    Example: platform configure import dev-profile.json
    """


@configure.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--default/--no-default", "make_default", default=True,
              help="Make the imported profile the default (default: yes).")
def import_(file: Path, make_default: bool) -> None:
    """Import a profile FILE written by `platform env export`.

    Example: platform configure import dev-profile.json
    """
    from platform_cli import profiles

    names = profiles.import_file(file, make_default)
    click.echo(f"Imported profile(s): {', '.join(names)}. Next: python flow.py run")
