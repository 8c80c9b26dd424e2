"""The ``flowlib`` command: inspect and check configuration profiles.

    flowlib config show [--profile P] [--output json]   effective settings and their sources
    flowlib config profiles [--output json]             profiles in the config file
    flowlib config validate [--profile P] [--check]     validate; --check also reaches AWS
    flowlib gc / pin / unpin / cost                     retention and cost (flowlib.retention)

Until the console script is installed: ``python -m flowlib.cli.flowlib_command config show``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from flowlib.cli.errors import CONTEXT_SETTINGS, UserErrorGroup


class _Group(UserErrorGroup):
    """FlowlibErrors become one line on stderr and their exit code (no traceback)."""

    error_prefix = "flowlib"
    missing_extras = {"boto3": "aws", "botocore": "aws"}


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
def main() -> None:
    """flowlib's configuration and environment.

    Example: flowlib config show --profile dev
    """


@main.group("config")
def config_group() -> None:
    """Show and validate configuration profiles.

    Example: flowlib config show
    """


def _output_option(f: Any) -> Any:
    return click.option(
        "--output", "-o", type=click.Choice(["text", "json"]), default="text",
        help="Human-readable text (default) or JSON for scripts.",
    )(f)


def _profile_option(f: Any) -> Any:
    return click.option(
        "--profile", "-p", default=None,
        help="Profile to resolve (default: FLOWLIB_PROFILE, else the file's default_profile, "
        "else local).",
    )(f)


@config_group.command("show")
@_profile_option
@_output_option
def show(profile: str | None, output: str) -> None:
    """The effective settings of a profile and where each value comes from.

    Example: FLOWLIB_REGION=eu-west-1 flowlib config show --profile dev
    """
    from flowlib.config import effective_profile

    resolved = effective_profile(profile)
    if output == "json":
        click.echo(json.dumps(resolved.to_dict(), indent=2))
        return
    click.echo(f"profile: {resolved.name}    (from {resolved.name_source})")
    click.echo(f"config file: {resolved.path or 'none (FLOWLIB_CONFIG=env)'}"
               + ("" if resolved.path is None or resolved.path.exists() else " (not present)"))
    rows = [(k, _fmt(v), resolved.sources[k]) for k, v in resolved.values.items()]
    if not resolved.is_aws and "datastore_root" not in resolved.values:
        from flowlib.config import local_root

        rows.append(("datastore_root", str(local_root()), "default (nearest .flowlib/)"))
    width = max(len(r[0]) for r in rows)
    vwidth = min(max(len(r[1]) for r in rows), 60)
    for key, value, source in rows:
        click.echo(f"  {key:<{width}}  {value:<{vwidth}}  {source}")


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    return "''" if value == "" else str(value)


@config_group.command("profiles")
@_output_option
def profiles(output: str) -> None:
    """List the profiles of the config file (and the built-in local one).

    Example: flowlib config profiles
    """
    from flowlib.config import DEFAULT_PROFILE, config_path, load_config, profile_names

    path = config_path()
    config = load_config(path)
    default = config.get("default_profile") or DEFAULT_PROFILE
    names = profile_names(config)
    if output == "json":
        click.echo(json.dumps({"config_file": str(path) if path else None, "default": default,
                               "profiles": names}, indent=2))
        return
    for name in names:
        kind = _describe(config.get("profiles", {}).get(name, {}))
        click.echo(f"{'*' if name == default else ' '} {name:<20} {kind}")
    click.echo(f"(config file: {path or 'none'}; * = default)")


def _describe(profile: dict[str, Any]) -> str:
    if not profile:
        return "local folder (built-in)"
    datastore = profile.get("datastore", "local")
    if datastore == "s3":
        where = f"s3://{profile.get('s3_bucket')}/{profile.get('s3_prefix', '')}".rstrip("/")
    else:
        where = f"local {profile.get('datastore_root', '.flowlib/')}"
    meta = profile.get("metadata", "local")
    if meta == "dynamodb":
        meta = f"dynamodb:{profile.get('dynamodb_table')}"
    return f"{where}, {meta}" + (f", {profile['region']}" if profile.get("region") else "")


@config_group.command("validate")
@_profile_option
@click.option("--all", "all_profiles", is_flag=True, help="Validate every profile of the file.")
@click.option("--check", is_flag=True,
              help="Also reach AWS: credentials, bucket (exists, region) and table (exists, "
              "keys and index match flowlib's table schema).")
def validate(profile: str | None, all_profiles: bool, check: bool) -> None:
    """Validate the config file and a profile; exit 1 with the problem otherwise.

    Example: flowlib config validate --profile prod --check
    """
    from flowlib.config import effective_profile, load_config, profile_names

    names = profile_names(load_config()) if all_profiles else [profile]
    for name in names:
        resolved = effective_profile(name)
        if check and resolved.is_aws:
            _check_aws(resolved)
        click.echo(f"profile '{resolved.name}': OK" + (" (AWS reached)" if check and
                                                       resolved.is_aws else ""))


def _check_aws(profile: Any) -> None:
    """The same checks a run makes before writing anything (``Stores.preflight``): the bucket
    (HeadBucket, region) and the table (exists, keys and index match flowlib's schema)."""
    from flowlib.stores import stores_for

    stores_for(profile).preflight("flowlib-config-check")


def _add_ui_command() -> None:
    from flowlib.ui.server import ui_command  # click only: uvicorn loads when the UI starts

    main.add_command(ui_command)


_add_ui_command()


def _register_commands() -> None:
    from flowlib.retention.cli import register

    register(main)


_register_commands()

if __name__ == "__main__":
    main(prog_name="flowlib")
