"""``current``: what the running task knows about itself (Metaflow's ``current``)."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from typing import Any

TRIGGER_ENV = "FLOWLIB_TRIGGER"  # set by the Step Functions entry for a triggered run's tasks


@dataclass(frozen=True)
class Trigger:
    """What started a deployed run (Metaflow's ``current.trigger``): ``type`` is ``"event"``
    (``@trigger(event=...)``), ``"run"`` (``@trigger_on_finish``) or ``"s3"``
    (``@trigger(s3=...)``); ``name`` the event's name (``"Object Created"`` for S3),
    ``event_id`` EventBridge's id of it, ``run`` the upstream run's pathspec (``"run"`` only),
    ``object`` the created object's ``s3://bucket/key`` (``"s3"`` only; None when that URL
    does not fit a 255-character tag: map the key to a parameter to always have it).
    Stored as the run's system tags (``trigger_event:``, ``trigger_event_id:``,
    ``trigger_run:``, ``trigger_object:``)."""

    type: str
    name: str
    event_id: str
    run: str | None = None
    object: str | None = None

    def to_tags(self) -> list[str]:
        tags = [f"trigger:{self.type}", f"trigger_event:{self.name}",
                f"trigger_event_id:{self.event_id}"]
        if self.run:
            tags.append(f"trigger_run:{self.run}")
        if self.object:
            tags.append(f"trigger_object:{self.object}")
        return tags

    @classmethod
    def from_tags(cls, tags: Any) -> Trigger | None:
        found = {t.split(":", 1)[0]: t.split(":", 1)[1] for t in tags if ":" in t}
        if found.get("trigger") not in ("event", "run", "s3") or "trigger_event" not in found:
            return None
        return cls(found["trigger"], found["trigger_event"],
                   found.get("trigger_event_id", ""), found.get("trigger_run"),
                   found.get("trigger_object"))


def current_user() -> str:
    """The user runs are attributed to: FLOWLIB_USER, else Metaflow's METAFLOW_USER, else USER,
    else the login name."""
    for var in ("FLOWLIB_USER", "METAFLOW_USER", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


class Current:
    """Attributes are set by the runtime while a task runs; outside a task they are None."""

    _FIELDS = (
        "flow_name",
        "run_id",
        "step_name",
        "task_id",
        "retry_count",
        "origin_run_id",
        "namespace",
        "tags",
        "parameter_names",
        # @project flows (Metaflow's names); None otherwise.
        "project_name",
        "branch_name",
        "project_flow_name",
        "is_production",
        "is_user_branch",
    )

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        for field in self._FIELDS:
            setattr(self, field, None)
        self.is_running_flow = False

    def _set(self, **values: Any) -> None:
        for key, value in values.items():
            if key not in self._FIELDS:
                raise AttributeError(key)
            setattr(self, key, value)
        self.is_running_flow = True

    @property
    def trigger(self) -> Trigger | None:
        """What started this run when an event or another flow's run did, else None."""
        raw = os.environ.get(TRIGGER_ENV)
        return Trigger(**json.loads(raw)) if raw and self.is_running_flow else None

    @property
    def username(self) -> str:
        return current_user()

    @property
    def user(self) -> str:
        return current_user()

    @property
    def card(self) -> Any:
        """The task's cards (``@card``): ``current.card.append(...)``, ``current.card["id"]``,
        ``current.card.refresh()``. See flowlib.cards."""
        from flowlib.cards.collector import active_cards

        return active_cards()

    @property
    def pathspec(self) -> str | None:
        if not self.is_running_flow:
            return None
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def task(self) -> Any:
        """The running task as a client ``Task`` (Metaflow's ``current.task``), else None."""
        if not self.is_running_flow:
            return None
        from flowlib.client import Task

        return Task(self.pathspec, _namespace_check=False)

    @property
    def run(self) -> Any:
        """The running run as a client ``Run`` (Metaflow's ``current.run``), else None."""
        if not self.is_running_flow:
            return None
        from flowlib.client import Run

        return Run(f"{self.flow_name}/{self.run_id}", _namespace_check=False)

    def __repr__(self) -> str:
        return f"<current {self.pathspec or '(not in a task)'}>"


current = Current()
