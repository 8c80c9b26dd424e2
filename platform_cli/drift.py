"""``plan -detailed-exitcode`` turned into a report a person can read."""

from __future__ import annotations

import json
from typing import Any

SYMBOLS = {"create": "+ create ", "update": "~ update ", "delete": "- destroy",
           "replace": "± replace"}


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def report(plan: Any) -> dict[str, Any]:
    return {
        "drifted": bool(plan.changed),
        "changed_outside_terraform": plan.drift,
        "changes_to_match_code": plan.changes,
        "counts": plan.counts,
    }


def render(env: str, plan: Any) -> list[str]:
    if not plan.changed:
        return [f"Environment '{env}' matches the code: no drift."]
    lines = [f"Environment '{env}' has drifted from the code "
             f"({sum(plan.counts.values())} resource(s) differ)."]
    if plan.drift:
        lines.append("Changed outside Terraform:")
        for item in plan.drift:
            lines.append(f"  {item['address']} ({item['action']})")
            for attr in item["attributes"][:8]:
                lines.append(f"      {attr['name']}: {_short(attr['before'])} -> "
                             f"{_short(attr['after'])}")
    lines.append("To match the code, apply would:")
    for change in plan.changes:
        lines.append(f"  {SYMBOLS.get(change['action'], change['action'])} {change['address']}")
        if change["action"] in ("update", "replace"):
            for attr in change["attributes"][:8]:
                lines.append(f"      {attr['name']}: {_short(attr['before'])} -> "
                             f"{_short(attr['after'])}")
    lines.append(f"Run `platform apply {env}` to restore it, or change the code to keep it.")
    return lines
