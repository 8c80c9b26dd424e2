"""Turn a card's components into one self-contained HTML page.

Templates are Jinja2 with autoescaping on, so every user string is text. Each component is
rendered on its own: one that raises is replaced by an ``Error`` box naming it and the
exception, and the rest of the card still renders. The vendored Vega scripts (``vendor/``) are
inlined only into cards that hold a chart.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

from markupsafe import Markup

from flowlib.cards.components import CardComponent, Error


@lru_cache(maxsize=1)
def environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("flowlib.cards", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def component_macro(name: str) -> Callable[..., str]:
    return getattr(environment().get_template("components.html").module, name)


@lru_cache(maxsize=4)
def asset(name: str) -> Markup:
    """A file shipped with the package (CSS, vendored JS), as trusted markup."""
    folder = "vendor" if name.endswith(".js") else "templates"
    return Markup(resources.files("flowlib.cards").joinpath(folder, name).read_text("utf-8"))


def render_component(component: Any) -> Markup:
    """The component's HTML, or an error box in its place (never raises)."""
    try:
        if not isinstance(component, CardComponent):
            raise TypeError(
                f"{type(component).__name__} is not a card component; append one of "
                "flowlib.cards' Markdown, Table, Image, VegaChart, Artifact or ProgressBar."
            )
        return Markup(component.render())
    except Exception as exc:  # noqa: BLE001 - a failing component must not fail the card
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Markup(Error(f"{type(component).__name__} failed to render", detail).render())


def render_card(
    title: str, subtitle: str, components: Iterable[Any], card_type: str = "blank"
) -> str:
    """A complete HTML document for a card."""
    components = list(components)
    parts = [render_component(c) for c in components]
    vega = None
    if any(_needs_vega(c) for c in components):
        vega = {
            "vega": asset("vega.min.js"),
            "vega_lite": asset("vega-lite.min.js"),
            "vega_embed": asset("vega-embed.min.js"),
        }
    return environment().get_template("card.html").render(
        title=title, subtitle=subtitle, parts=parts, css=asset("style.css"), vega=vega,
        card_type=card_type,
    )


def _needs_vega(component: Any) -> bool:
    if getattr(component, "needs_vega", False):
        return True
    children = getattr(component, "components", None) or []
    rows = getattr(component, "data", None) if hasattr(component, "headers") else None
    cells = [c for row in (rows or []) for c in row]
    return any(_needs_vega(c) for c in [*children, *cells] if isinstance(c, CardComponent))
