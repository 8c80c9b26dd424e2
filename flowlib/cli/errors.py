"""How every command line of the project reports a user's error: the flow file's CLI
(``python flow.py ...``), ``flowlib`` (configuration) and ``platform`` (operations).

One rule for all three: an error the user can fix is a ``FlowlibError`` (``PlatformError`` is
one), printed as one line on stderr, ``<prefix>: <message>``, plus an optional ``  hint: ...``
line, and the process exits with the error's ``exit_code``; no traceback. A missing optional
dependency becomes the same kind of line, naming the extra to install. Tracebacks are kept for
our own bugs and for the user's step code.

This module imports only click and ``flowlib.exceptions``; ``platform`` imports it when a
command is invoked, so ``platform --help`` stays free of flowlib.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click

from flowlib.exceptions import FlowlibError

# The click settings every command line shares.
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"],
                                    "max_content_width": 100}

DISTRIBUTION = "flowlib-platform"


def report(prefix: str, exc: BaseException) -> int:
    """Print a user error as ``prefix: message`` (+ ``  hint: ...``); return its exit code."""
    click.echo(f"{prefix}: {exc}", err=True)
    hint = getattr(exc, "hint", None)
    if hint:
        click.echo(f"  hint: {hint}", err=True)
    return getattr(exc, "exit_code", 1) or 1


def missing_extra_message(exc: ModuleNotFoundError, extras: Mapping[str, str]) -> str | None:
    """The install command for a module one of our extras provides, else None (a bug)."""
    root = (exc.name or "").split(".")[0]
    extra = extras.get(root)
    if extra is None:
        return None
    return (f"this command needs the Python package '{root}', which is not installed. "
            f"Install the '{extra}' extra: pip install '{DISTRIBUTION}[{extra}]'")


@contextmanager
def user_errors(prefix: str, extras: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn user errors (and a missing extra listed in ``extras``) raised inside into one
    line on stderr and ``sys.exit`` with the error's code."""
    try:
        yield
    except FlowlibError as exc:
        sys.exit(report(prefix, exc))
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc, extras or {})
        if message is None:
            raise
        click.echo(f"{prefix}: {message}", err=True)
        sys.exit(1)


class UserErrorGroup(click.Group):
    """A click group whose commands' user errors are reported by ``user_errors``.

    Subclasses set ``error_prefix`` and ``missing_extras`` (module -> extra)."""

    error_prefix = "flowlib"
    missing_extras: Mapping[str, str] = {}

    def invoke(self, ctx: click.Context) -> Any:
        with user_errors(self.error_prefix, self.missing_extras):
            return super().invoke(ctx)
