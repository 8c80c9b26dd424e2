"""Short previews of artifact values, shared by cards and the web UI.

A preview is plain data (strings and lists) that a template shows as text: a DataFrame's
shape and first rows, an array's shape, dtype and statistics, a scalar's value, or the start of
a repr. Computing one never raises: an odd value gets a description of why it has no preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 500
MAX_ROWS = 5


@dataclass
class Preview:
    summary: str  # one line: type and size
    text: str = ""  # the value (scalars, reprs)
    headers: list[str] = field(default_factory=list)  # a table's head (DataFrames)
    rows: list[list[str]] = field(default_factory=list)


def preview(value: Any) -> Preview:
    try:
        return _preview(value)
    except Exception as exc:  # noqa: BLE001 - a preview must never break a page or a card
        return Preview(type(value).__name__, f"(no preview: {type(exc).__name__}: {exc})")


def _short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def _preview(value: Any) -> Preview:
    kind = type(value).__name__
    module = type(value).__module__ or ""
    if value is None or isinstance(value, (bool, int, float, complex)):
        return Preview(kind, repr(value))
    if isinstance(value, str):
        return Preview(f"str, {len(value):,} characters", _short(value))
    if isinstance(value, (bytes, bytearray)):
        return Preview(f"{kind}, {len(value):,} bytes", _short(repr(value[:200])))
    if module.startswith("pandas") and kind == "DataFrame":
        head = value.head(MAX_ROWS)
        headers = [str(head.index.name or "")] + [str(c) for c in head.columns]
        rows = [[_short(str(i), 80)] + [_short(str(v), 80) for v in row]
                for i, row in zip(head.index.tolist(), head.itertuples(index=False, name=None),
                                  strict=True)]
        rows_n, cols_n = value.shape
        return Preview(f"DataFrame, {rows_n:,} rows x {cols_n:,} columns", "", headers, rows)
    if module.startswith("pandas") and kind == "Series":
        return Preview(f"Series, {len(value):,} values, dtype {value.dtype}",
                       _short(value.head(MAX_ROWS * 2).to_string()))
    if module.startswith("numpy") and kind == "ndarray":
        summary = f"ndarray, shape {value.shape}, dtype {value.dtype}"
        text = ""
        if value.size and value.dtype.kind in "biuf":
            text = (f"min {value.min():.6g}, max {value.max():.6g}, "
                    f"mean {value.mean():.6g}, std {value.std():.6g}")
        return Preview(summary, text or _short(repr(value)))
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return Preview(f"{kind}, {len(value):,} items", _short(repr(value)))
    return Preview(kind, _short(repr(value)))
