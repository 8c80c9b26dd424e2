"""Turning scenario results into table rows: flowlib, Metaflow, ratio, target, pass/fail."""

from __future__ import annotations

from dataclasses import asdict, dataclass

GIB = 1 << 30


@dataclass
class Row:
    metric: str
    unit: str
    flowlib: float | None
    metaflow: float | None
    ratio: float | None  # "how many times better flowlib is" (see the ratio column's note)
    target: str
    passed: bool | None
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def speedup(
    metric: str,
    unit: str,
    flowlib: float | None,
    metaflow: float | None,
    minimum: float | None,
    note: str = "",
) -> Row:
    """A lower-is-better quantity; ratio = Metaflow / flowlib, target ratio >= ``minimum``."""
    ratio = metaflow / flowlib if flowlib and metaflow is not None else None
    passed = None if minimum is None or ratio is None else ratio >= minimum
    target = f">= {minimum:g}x" if minimum is not None else "-"
    return Row(metric, unit, flowlib, metaflow, ratio, target, passed, note)


def ceiling(
    metric: str, unit: str, flowlib: float, metaflow: float | None, limit: float, note: str = ""
) -> Row:
    """flowlib's value must be at most ``limit``; ratio = Metaflow / flowlib for scale."""
    ratio = metaflow / flowlib if flowlib and metaflow is not None else None
    return Row(
        metric,
        unit,
        flowlib,
        metaflow,
        ratio,
        f"flowlib <= {limit:g} {unit}",
        flowlib <= limit,
        note,
    )


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit.startswith("ms"):
        return f"{value * 1000:.2f}"
    if unit == "GiB":
        return f"{value:.2f}"
    if abs(value) < 0.01:
        return f"{value * 1000:.2f} ms"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def markdown(rows: list[Row]) -> str:
    head = (
        "| metric | unit | flowlib | Metaflow | ratio (Metaflow / flowlib) | target | pass |\n"
        "| --- | --- | ---: | ---: | ---: | --- | --- |"
    )
    lines = [head]
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.{1 if r.ratio >= 10 else 2}f}x"
        verdict = {True: "PASS", False: "**FAIL**", None: ""}[r.passed]
        metric = f"{r.metric} ({r.note})" if r.note else r.metric
        lines.append(
            f"| {metric} | {r.unit} | {_fmt(r.flowlib, r.unit)} | "
            f"{_fmt(r.metaflow, r.unit)} | {ratio} | {r.target} | {verdict} |"
        )
    return "\n".join(lines)
