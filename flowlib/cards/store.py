"""Where cards live: the HTML is a blob in the flow's blob store (next to the task's
artifacts, written atomically and content-addressed), and a ``CardRecord`` in the metadata
store points a task attempt's card at it. Saving again (refresh) points the record at the new
blob; readers see either the old card or the new one, never part of one.
"""

from __future__ import annotations

import time
from typing import Any

from flowlib.metadata.records import CardRecord


class CardWriter:
    """Renders and saves the cards of one task attempt (used inside the task process)."""

    def __init__(self, stores: Any, spec: Any, graph: Any) -> None:
        self.stores = stores
        self.spec = spec
        self.graph = graph
        self.started = time.time()

    def render(self, card: Any, flow: Any, status: str) -> str:
        from flowlib.cards.default_card import default_components
        from flowlib.cards.render import render_card
        from flowlib.current import current

        spec = self.spec
        components = list(card.components)
        if card.type == "default":
            components = default_components(
                flow, spec.pathspec, self.graph, spec.step, self.started, status,
                list(current.parameter_names or []),
            ) + components
        label = f" · card {card.id}" if card.id else ""
        subtitle = f"attempt {spec.attempt} · {status}{label}"
        return render_card(spec.pathspec, subtitle, components, card.type)

    def save(self, card: Any, flow: Any, status: str) -> None:
        spec = self.spec
        html = self.render(card, flow, status)
        key = self.stores.artifacts(spec.flow).put_bytes(html.encode("utf-8"))
        self.stores.metadata.put_card(CardRecord(
            spec.flow, spec.run_id, spec.step, spec.task_id, spec.attempt, card.index,
            card.type, key, time.time(), card.id,
        ))


class Card:
    """A stored card of a task: ``card.html`` (loaded on access), ``card.id``, ``card.type``.

    ``Task(...).cards`` lists them; ``card.view()`` opens one in the browser."""

    def __init__(self, record: CardRecord, stores: Any) -> None:
        self._record = record
        self._stores = stores
        self.id = record.card_id
        self.type = record.type
        self.attempt = record.attempt
        self.index = record.index
        self.hash = record.key

    @property
    def html(self) -> str:
        blob = self._stores.artifacts(self._record.flow).get_bytes(self._record.key)
        return blob.decode("utf-8")

    @property
    def updated_at(self) -> float:
        return self._record.updated

    @property
    def path(self) -> str:
        """Where the card's bytes are stored (a path or s3:// URL)."""
        return self._stores.artifacts(self._record.flow).blobs.location(self._record.key)

    def save(self, path: str) -> None:
        """Write the card's HTML to ``path``."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.html)

    def view(self) -> str:
        """Write the card to a temporary file and open it in the default browser."""
        import tempfile
        import webbrowser

        with tempfile.NamedTemporaryFile(
            "w", suffix=".html", prefix="flowlib-card-", delete=False, encoding="utf-8"
        ) as handle:
            handle.write(self.html)
        webbrowser.open(f"file://{handle.name}")
        return handle.name

    def _repr_html_(self) -> str:  # notebooks show the card itself
        return self.html

    def __repr__(self) -> str:
        return f"Card({self._record.flow}/{self._record.run_id}/{self._record.step}/" \
               f"{self._record.task_id}, type={self.type}, id={self.id})"


def task_cards(stores: Any, flow: str, run_id: str, step: str, task_id: str,
               attempt: int | None = None) -> list[Card]:
    """Cards of a task's attempt (default: the latest attempt that has cards)."""
    records = stores.metadata.list_cards(flow, run_id, step, task_id)
    if not records:
        return []
    chosen = attempt if attempt is not None else max(r.attempt for r in records)
    return [Card(r, stores) for r in records if r.attempt == chosen]
