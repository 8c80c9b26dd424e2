"""Metaflow's top-level options (``python flow.py --metadata local run``), for scripts that
pass them.

Where an option means something here it maps onto the profile keys (the same environment
variables a profile can be set with, so task processes inherit them); where it does not, it is
accepted with a one-line notice saying why it has no effect. Each option's handling is stated
in ``TOP_LEVEL_OPTIONS`` (``flowlib/argv.py``, a leaf module: ``flow_config`` reads
``--config`` from the command line without depending on the CLI).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from flowlib.argv import TOP_LEVEL_OPTIONS, first_command_index  # noqa: F401 - re-export
from flowlib.exceptions import FlowlibError


def top_level_options(func: Callable) -> Callable:
    options = [
        click.option("--metadata", type=click.Choice(["local", "dynamodb", "service"]),
                     help="Where run metadata goes (Metaflow's option): local SQLite or "
                     "DynamoDB; overrides the profile."),
        click.option("--datastore", type=click.Choice(["local", "s3"]),
                     help="Where artifacts go (Metaflow's option); overrides the profile."),
        click.option("--datastore-root", help="Local datastore folder, or s3://bucket/prefix."),
        click.option("--environment", help="Metaflow's step environment; flowlib runs steps in "
                     "the current one ('local').", default=None),
        click.option("--quiet", "top_quiet", is_flag=True, help="As run --quiet."),
        click.option("--config", "configs", nargs=2, multiple=True, metavar="NAME FILE",
                     help="Value of the flow's Config NAME from FILE."),
        click.option("--config-value", "config_values", nargs=2, multiple=True,
                     metavar="NAME JSON", help="Value of the flow's Config NAME."),
        click.option("--with", "top_with", multiple=True, metavar="DECORATOR[:k=v,...]",
                     help="As run --with."),
        click.option("--no-pylint", "no_pylint", is_flag=True, hidden=True),
        click.option("--pylint", "pylint", is_flag=True, hidden=True),
        click.option("--event-logger", hidden=True),
        click.option("--monitor", hidden=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def apply_top_level(obj: Any, options: dict[str, Any]) -> None:
    """Map the options onto this process's environment (inherited by task processes)."""
    metadata, datastore = options.get("metadata"), options.get("datastore")
    root = options.get("datastore_root")
    if metadata == "service":
        raise FlowlibError(
            "--metadata service: flowlib has no metadata service; its shared store is DynamoDB. "
            "Use --metadata dynamodb (with a profile naming the table) or a profile."
        )
    if metadata:
        os.environ["FLOWLIB_METADATA"] = metadata
    if datastore:
        os.environ["FLOWLIB_DATASTORE"] = datastore
    if root:
        if root.startswith("s3://"):
            bucket, _, prefix = root[len("s3://"):].partition("/")
            os.environ["FLOWLIB_DATASTORE"] = "s3"
            os.environ["FLOWLIB_S3_BUCKET"] = bucket
            os.environ["FLOWLIB_S3_PREFIX"] = prefix.strip("/")
        else:
            os.environ["FLOWLIB_DATASTORE_ROOT"] = os.path.abspath(root)
    if metadata or datastore or root:
        from flowlib.stores import reset_stores

        reset_stores()
    environment = options.get("environment")
    if environment not in (None, "local"):
        click.echo(
            f"flowlib: --environment {environment} ignored: steps run in the current Python "
            "environment (per-step environments are not supported).",
            err=True,
        )
    ignored = [f"--{n.replace('_', '-')}" for n in ("no_pylint", "pylint") if options.get(n)]
    ignored += [f"--{n.replace('_', '-')}" for n in ("event_logger", "monitor") if options.get(n)]
    if ignored:
        click.echo(
            f"flowlib: {', '.join(ignored)} ignored: flowlib checks the graph with its own lint "
            "and has no event logger or monitor plugins.",
            err=True,
        )
    obj.quiet = bool(options.get("top_quiet"))
    obj.top_with = list(options.get("top_with") or [])
