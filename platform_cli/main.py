"""``platform``: provision and operate flowlib environments on AWS.

Start-up must stay fast (``platform --help`` well under 0.3 s): subcommands are imported only
when invoked (``LazyGroup``), and boto3 / python-terraform only inside the functions using them.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from platform_cli.errors import PlatformError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

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
    "gc": "platform_cli.commands.gc:gc",
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
    "gc": "Delete runs and artifacts the retention policy does not keep.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on demand, and that turns our errors into one
    line on stderr."""

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
        try:
            return super().invoke(ctx)
        except PlatformError as exc:
            fail(exc.message, exc.hint, exc.exit_code)
        except Exception as exc:  # flowlib's own user errors (a corrupt config file, ...)
            if _is_flowlib_error(exc):
                fail(str(exc), None, getattr(exc, "exit_code", 1) or 1)
            raise


def _is_flowlib_error(exc: BaseException) -> bool:
    module = sys.modules.get("flowlib.exceptions")
    return module is not None and isinstance(exc, module.FlowlibError)


def fail(message: str, hint: str | None = None, exit_code: int = 1) -> None:
    click.echo(f"platform: error: {message}", err=True)
    if hint:
        click.echo(f"  hint: {hint}", err=True)
    sys.exit(exit_code)


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
