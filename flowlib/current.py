"""``current``: what the running task knows about itself (Metaflow's ``current``)."""

from __future__ import annotations

import getpass
import os
from typing import Any


def current_user() -> str:
    """The user runs are attributed to: FLOWLIB_USER, else USER, else the login name."""
    for var in ("FLOWLIB_USER", "USER", "USERNAME"):
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

    def __repr__(self) -> str:
        return f"<current {self.pathspec or '(not in a task)'}>"


current = Current()
