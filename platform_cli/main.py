"""``platform``: the ops command line (environments are provisioned with Terraform)."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flowlib-platform")
def cli() -> None:
    """Provision and operate flowlib environments on AWS.

    Example: platform --help
    """
