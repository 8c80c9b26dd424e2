"""Human tables and JSON for scripts: one place decides how results look."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

OUTPUT_CHOICES = ("text", "json")


def output_option(f: Any) -> Any:
    """``--output text|json`` (``-o``): every read command has it."""
    return click.option(
        "--output", "-o", type=click.Choice(OUTPUT_CHOICES), default="text", show_default=True,
        help="Human-readable text, or JSON for scripts.",
    )(f)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain left-aligned table (no dependency, copy-paste friendly)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def info(message: str) -> None:
    """Progress and narration go to stderr so stdout stays clean for ``--output json``."""
    click.echo(message, err=True)


def is_tty() -> bool:
    return sys.stderr.isatty()
