"""``platform``: provision and operate flowlib environments on AWS.

Start-up must stay fast (``platform --help`` well under 0.3 s): subcommands are imported only
when invoked (``LazyGroup``), and boto3 / python-terraform only inside the functions using them.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# = flowlib.cli.errors.CONTEXT_SETTINGS (a test checks); not imported, as importing flowlib
# would slow `platform --help` down.
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# A module an extra provides -> that extra, for the message when it is missing.
MISSING_EXTRAS = {"boto3": "platform", "botocore": "platform", "python_terraform": "platform"}

# command name -> "module:attribute"; loaded on first use.
COMMANDS = {
    "init": "platform_cli.commands.lifecycle:init",
    "plan": "platform_cli.commands.lifecycle:plan",
    "apply": "platform_cli.commands.lifecycle:apply",
    "destroy": "platform_cli.commands.lifecycle:destroy",
    "force-unlock": "platform_cli.commands.lifecycle:force_unlock",
    "status": "platform_cli.commands.inspect:status",
    "doctor": "platform_cli.commands.inspect:doctor",
    "env": "platform_cli.commands.env:env",
    "configure": "platform_cli.commands.env:configure",
    "secrets": "platform_cli.commands.secrets:secrets",
    "gc": "platform_cli.commands.gc:gc",
    "events": "platform_cli.commands.events:events",
}

SHORT_HELP = {
    "init": "Create (or resume) an environment and write its flowlib profile.",
    "plan": "Show what an apply would change.",
    "apply": "Apply changes (new variables, new module versions).",
    "destroy": "Tear an environment down and remove its profile.",
    "force-unlock": "Release a stale state lock left by a killed run.",
    "status": "Drift: what differs from the code (exit 2 when drifted).",
    "doctor": "Live checks of an environment (exit 1 when one fails).",
    "env": "List, show, export and select environments.",
    "configure": "Import a profile received from ops.",
    "secrets": "Set, list and delete an environment's secrets (never shown).",
    "gc": "Delete runs and artifacts the retention policy does not keep.",
    "events": "Publish events that start flows, or print the aws CLI line for it.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on demand, and whose user errors are one line
    on stderr (``flowlib.cli.errors``, shared by the three command lines).

    Adding a command (or a group such as ``secrets``) is one entry in ``COMMANDS`` and one in
    ``SHORT_HELP``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help lists names and short help without importing any command."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, SHORT_HELP[name]) for name in COMMANDS])

    def invoke(self, ctx: click.Context) -> Any:
        from flowlib.cli.errors import user_errors  # here: `platform --help` skips flowlib

        with user_errors("platform: error", MISSING_EXTRAS):
            return super().invoke(ctx)


@click.group(cls=LazyGroup, context_settings=CONTEXT)
@click.version_option(package_name="flowlib-platform")
def cli() -> None:
    """Provision and operate flowlib environments on AWS, with Terraform.

    The environment name is also the flowlib profile name. From zero to a first run:

    \b
        platform init dev          # credentials for an empty account are enough
        python flow.py run         # FLOWLIB_PROFILE=dev, or `platform env use dev`

    Settings: PLATFORM_HOME (working copies, default ~/.local/share/flowlib-platform),
    PLATFORM_TERRAFORM_DIR (the stack), PLATFORM_BACKEND_CONFIG_EXTRA (advanced: extra
    `key=value` backend settings separated by commas, e.g. for S3-compatible stores).
    """


if __name__ == "__main__":
    cli(prog_name="platform")
