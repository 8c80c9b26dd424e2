"""``platform events put-command|publish``: a thin click layer over ``platform_cli.events``."""

from __future__ import annotations

from pathlib import Path

import click

from platform_cli import events as api
from platform_cli.commands.common import ENV_ARG
from platform_cli.output import emit_json, info, output_option

PAYLOAD_OPTIONS = [
    click.option("--payload", metavar="JSON",
                 help="The event's payload, a JSON object (its fields map to parameters)."),
    click.option("--payload-file", type=click.Path(exists=True, dir_okay=False,
                                                   path_type=Path),
                 help="Read the payload from this JSON file."),
]


def payload_options(f):  # noqa: ANN001, ANN201
    for option in reversed(PAYLOAD_OPTIONS):
        f = option(f)
    return f


@click.group("events")
def events() -> None:
    """Publish events that start deployed flows (@trigger), from anywhere.

    Python code calls Event(NAME).publish({...}); everything else runs the `aws events
    put-events` line `put-command` prints: the same entry, on the environment's bus.

    \b
    Example:
        platform events put-command dev data_ready --payload '{"table": "orders"}'
        platform events publish dev data_ready --payload '{"table": "orders"}'
    """


@events.command("put-command")
@ENV_ARG
@click.argument("name")
@payload_options
@output_option
def put_command(env: str, name: str, payload: str | None, payload_file: Path | None,
                output: str) -> None:
    """Print the `aws events put-events` call that publishes event NAME in ENV.

    \b
    Example:
        platform events put-command dev data_ready --payload '{"date": "2026-11-29"}'
        platform events put-command prod data_ready --output json   # the entries only
    """
    target = api.target_for(env)
    found = api.entry(target, name, api.read_payload(payload, payload_file))
    if output == "json":
        emit_json([found])
        return
    click.echo(api.put_command(target, found))


@events.command("publish")
@ENV_ARG
@click.argument("name")
@payload_options
@output_option
def publish(env: str, name: str, payload: str | None, payload_file: Path | None,
            output: str) -> None:
    """Publish event NAME on ENV's bus now (with your credentials) and print its id.

    \b
    Example:
        platform events publish dev data_ready --payload '{"date": "2026-11-29"}'
    """
    target = api.target_for(env)
    found = api.entry(target, name, api.read_payload(payload, payload_file))
    event_id = api.publish(target, found)
    if output == "json":
        emit_json({"environment": env, "bus": target.bus, "name": name, "event_id": event_id})
        return
    info(f"Published {name} on {target.bus} ({env}).")
    click.echo(event_id)
