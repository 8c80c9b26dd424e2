"""``@card``: give a step's tasks a card (Metaflow's name and arguments).

``@card`` is the default card (parameters, artifacts with previews, timings, the graph);
``@card(type="blank", id="report")`` is an empty card that the step fills with
``current.card["report"].append(...)``. A step may carry several cards (distinct ids).
Importing this module is cheap: templates load only when a card renders.
"""

from __future__ import annotations

from flowlib.decorators import StepDecorator, _make
from flowlib.exceptions import FlowlibError

CARD_TYPES = ("default", "blank")


class CardDecorator(StepDecorator):
    """Render an HTML card for each task of the step, stored next to its artifacts."""

    name = "card"
    defaults = {"type": "default", "id": None, "options": None}
    repeatable = True  # several @card on one step, told apart by id

    def validate(self) -> None:
        kind, card_id = self.attributes["type"], self.attributes["id"]
        if kind not in CARD_TYPES:
            raise FlowlibError(
                f"@card(type={kind!r}): unknown card type; use one of {', '.join(CARD_TYPES)}."
            )
        if card_id is not None and (
            not isinstance(card_id, str) or not card_id.replace("_", "a").isalnum()
        ):
            raise FlowlibError(
                f"@card(id={card_id!r}): an id is letters, digits and underscores, "
                "e.g. @card(type='blank', id='report')."
            )


# Not in decorators.DECORATORS: ``run --with card`` is refused as an unknown decorator rather
# than accepted and ignored (a task reads its cards from the step's own decorators).
card = _make(CardDecorator)
