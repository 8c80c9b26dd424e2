"""Entry point: ``MyFlow()`` at the bottom of a flow file calls ``main(MyFlow)``."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from flowlib.cli.errors import report
from flowlib.exceptions import FlowlibError


def main(flow_cls: type) -> NoReturn:
    from flowlib.cli.commands import build_cli

    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else flow_cls.__name__
    code = 0
    try:
        group = build_cli(flow_cls)
        group.main(args=sys.argv[1:], prog_name=f"python {prog}", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = 1
    except FlowlibError as exc:
        code = report(flow_cls.__name__, exc)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
