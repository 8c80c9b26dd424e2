"""``get_cards`` (Metaflow's ``metaflow.cards.get_cards``): the cards of a client ``Task``.

Also reachable as ``flowlib.cards.get_cards``; it lives in the client because it reads a
``Task``, and the cards package sits below the client in the layers (README, "Layers").
"""

from __future__ import annotations

from flowlib.cards.store import Card


def get_cards(task: object, id: str | None = None, type: str | None = None) -> list[Card]:
    """Cards of a ``Task`` (or a task pathspec), optionally only those of an id or type."""
    from flowlib.client import Task

    if isinstance(task, str):
        task = Task(task)
    return [c for c in task.cards if (id is None or c.id == id)
            and (type is None or c.type == type)]
