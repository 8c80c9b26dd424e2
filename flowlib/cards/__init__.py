"""Cards: HTML reports of a task (Metaflow's ``metaflow.cards``).

    from flowlib import FlowSpec, card, current, step
    from flowlib.cards import Markdown, Table, Image, VegaChart, Artifact, ProgressBar

    @card(type="blank", id="report")
    @step
    def train(self):
        current.card["report"].append(Markdown("# Loss"))

Components are imported on first use, so ``import flowlib`` stays cheap in a task.
"""

from __future__ import annotations

from typing import Any

_COMPONENTS = {"Markdown", "Table", "Image", "VegaChart", "Artifact", "ProgressBar",
               "CardComponent"}

__all__ = sorted(_COMPONENTS | {"get_cards"})


def __getattr__(name: str) -> Any:
    if name in _COMPONENTS:
        from flowlib.cards import components

        return getattr(components, name)
    if name == "get_cards":
        from flowlib.client.cards import get_cards

        return get_cards
    raise AttributeError(f"module 'flowlib.cards' has no attribute '{name}'")
