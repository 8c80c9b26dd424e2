"""The Amazon States Language rules a definition must follow that can be checked offline
(``lint_definition``): what the compile tests hold every compiled flow to."""

from __future__ import annotations

from typing import Any

_TERMINAL = ("Choice", "Succeed", "Fail")
_TYPES = ("Task", "Pass", "Choice", "Parallel", "Map", "Wait", "Succeed", "Fail")


def lint_definition(definition: dict[str, Any]) -> list[str]:
    """The States Language rules we can check offline; an empty list when all hold.

    Names unique across the whole machine and at most 80 characters; StartAt and every
    Next/Default/Catch target exist in the same scope; every state but Choice/Succeed/Fail
    has exactly one of Next and End; every state is reachable; ``.$`` fields hold a path or
    an intrinsic; Retry counts are whole and non-negative.
    """
    problems: list[str] = []
    seen: set[str] = set()

    def check_payload(where: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith(".$") and not (isinstance(item, str) and (
                        item.startswith("$") or item.startswith("States."))):
                    problems.append(f"{where}: field {key} must hold a path or an intrinsic")
                check_payload(where, item)
        elif isinstance(value, list):
            for item in value:
                check_payload(where, item)

    def scope(machine: dict[str, Any], label: str) -> None:
        states = machine.get("States") or {}
        start = machine.get("StartAt")
        if start not in states:
            problems.append(f"{label}: StartAt {start!r} is not a state")
        edges: dict[str, list[str]] = {}
        for name, state in states.items():
            where = f"state {name!r}"
            if name in seen:
                problems.append(f"{where}: name used twice")
            seen.add(name)
            if len(name) > 80:
                problems.append(f"{where}: name longer than 80 characters")
            kind = state.get("Type")
            if kind not in _TYPES:
                problems.append(f"{where}: unknown Type {kind!r}")
            targets = []
            if kind in _TERMINAL:
                if "Next" in state or "End" in state:
                    problems.append(f"{where}: a {kind} state takes no Next or End")
            elif ("Next" in state) == bool(state.get("End")):
                problems.append(f"{where}: needs exactly one of Next and End")
            if "Next" in state:
                targets.append(state["Next"])
            if kind == "Choice":
                if not state.get("Choices"):
                    problems.append(f"{where}: a Choice needs Choices")
                targets += [c.get("Next") for c in state.get("Choices", [])]
                if "Default" in state:
                    targets.append(state["Default"])
            targets += [c.get("Next") for c in state.get("Catch", [])]
            for rule in state.get("Retry", []):
                attempts = rule.get("MaxAttempts", 3)
                if not isinstance(attempts, int) or attempts < 0:
                    problems.append(f"{where}: Retry MaxAttempts must be a whole number >= 0")
            if kind == "Task" and not state.get("Resource"):
                problems.append(f"{where}: a Task needs a Resource")
            for target in targets:
                if target not in states:
                    problems.append(f"{where}: goes to {target!r}, which is not in its scope")
            edges[name] = [t for t in targets if t in states]
            for field_name in ("Parameters", "ItemSelector", "ResultSelector"):
                check_payload(where, state.get(field_name))
            for index, branch in enumerate(state.get("Branches", [])):
                scope(branch, f"{where} branch {index}")
            if "ItemProcessor" in state:
                scope(state["ItemProcessor"], f"{where} item processor")
        reached: set[str] = set()
        todo = [start] if start in states else []
        while todo:
            name = todo.pop()
            if name not in reached:
                reached.add(name)
                todo += edges.get(name, [])
        for name in states:
            if name not in reached:
                problems.append(f"{label}: state {name!r} is unreachable")

    scope(definition, "state machine")
    return problems
