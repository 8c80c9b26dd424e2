"""``current.card`` while a task runs: the components of each of the step's cards, and the
rendering and saving of the cards (on ``refresh()`` and when the attempt ends).

Nothing here may fail the task: a component that fails renders as an error box, a card that
cannot be saved prints one warning on stderr, and user calls outside a task or on a step
without ``@card`` warn once and do nothing (as in Metaflow).
"""

from __future__ import annotations

import sys
import time
from typing import Any

REFRESH_INTERVAL = 1.0  # seconds: refresh() calls closer together than this are skipped


class CardHandle:
    """One card of the running task: its decorator and the components appended to it."""

    def __init__(self, index: int, decorator: Any) -> None:
        self.index = index
        self.type = decorator.attributes["type"]
        self.id = decorator.attributes["id"]
        self.components: list[Any] = []

    def append(self, component: Any) -> None:
        self.components.append(component)

    def extend(self, components: list[Any]) -> None:
        self.components.extend(components)

    def clear(self) -> None:
        self.components.clear()

    @property
    def components_list(self) -> list[Any]:
        return list(self.components)

    def __repr__(self) -> str:
        return f"<card {self.id or self.index} ({self.type}), {len(self.components)} components>"


class TaskCards:
    """What ``current.card`` is in a task of a step with ``@card``."""

    def __init__(self, decorators: list[Any], writer: Any = None) -> None:
        self.cards = [CardHandle(i, d) for i, d in enumerate(decorators)]
        self.writer = writer
        self.flow: Any = None
        self._last_refresh = 0.0
        self._warned: set[str] = set()

    # -- what users call -------------------------------------------------------------------
    def _editable(self) -> CardHandle | None:
        """The card that ``current.card.append`` adds to: the only card, else the only one
        without an id (Metaflow's "default editable card")."""
        if len(self.cards) == 1:
            return self.cards[0]
        unnamed = [c for c in self.cards if c.id is None]
        return unnamed[0] if len(unnamed) == 1 else None

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            print(f"flowlib: {message}", file=sys.stderr)

    def append(self, component: Any) -> None:
        card = self._editable()
        if card is None:
            self._warn("current.card.append: no single card to add to; use "
                       "current.card['ID'].append(...) with the id of an @card of this step.")
            return
        card.append(component)

    def extend(self, components: list[Any]) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        card = self._editable()
        if card is not None:
            card.clear()

    @property
    def components(self) -> list[Any]:
        card = self._editable()
        return card.components if card is not None else []

    def __getitem__(self, card_id: str) -> CardHandle | _Ignored:
        for card in self.cards:
            if card.id == card_id:
                return card
        self._warn(f"current.card[{card_id!r}]: this step has no @card(id={card_id!r}); "
                   "what is appended to it is dropped.")
        return _Ignored()

    def __contains__(self, card_id: object) -> bool:
        return any(c.id == card_id for c in self.cards)

    def refresh(self) -> None:
        """Render and save the cards now, so they can be looked at while the task runs."""
        now = time.monotonic()
        if now - self._last_refresh < REFRESH_INTERVAL:
            return
        self._last_refresh = now
        self.save(status="running")

    # -- what the runtime calls --------------------------------------------------------------
    def bind_flow(self, flow: Any) -> None:
        self.flow = flow

    def save(self, status: str) -> None:
        if self.writer is None:
            return
        for card in self.cards:
            try:
                self.writer.save(card, self.flow, status)
            except Exception as exc:  # noqa: BLE001 - a card never fails its task
                self._warn(f"card {card.id or card.index} of this task could not be saved: "
                           f"{type(exc).__name__}: {exc}")


class _Ignored:
    """What ``current.card[...]`` returns for an unknown id: accepts calls, keeps nothing."""

    def append(self, component: Any) -> None:
        pass

    def extend(self, components: list[Any]) -> None:
        pass

    def clear(self) -> None:
        pass

    components: list[Any] = []


_NO_CARDS = TaskCards([])
_active: TaskCards | None = None


def active_cards() -> TaskCards:
    return _active if _active is not None else _NO_CARDS


def start(decorators: list[Any], writer: Any) -> TaskCards:
    """Called by the runtime when an attempt starts; the cards become ``current.card``."""
    global _active
    cards = [d for d in decorators if getattr(d, "name", "") == "card"]
    ids = [d.attributes["id"] for d in cards if d.attributes["id"] is not None]
    _active = TaskCards(cards, writer if cards else None)
    if len(ids) != len(set(ids)):
        _active._warn(f"two @card decorators of this step share an id ({', '.join(ids)}); "
                      "current.card[id] reaches the first. Give each card its own id.")
    return _active


def finish(status: str) -> None:
    """Called by the runtime when the attempt ended: save the final cards."""
    global _active
    cards, _active = _active, None
    if cards is not None:
        cards.save(status)
