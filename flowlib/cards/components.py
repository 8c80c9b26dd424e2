"""Card components (Metaflow's ``metaflow.cards`` names): what ``current.card.append`` takes.

Each component turns itself into a small piece of HTML through a Jinja2 macro of
``templates/components.html`` (autoescaped: every string a user gives is shown as text).
A component that fails to render is shown as an error box in its place (see ``render.py``):
a card never fails its task.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from markupsafe import Markup

from flowlib.exceptions import FlowlibError


class CardComponent:
    """Base class. ``render()`` returns safe HTML; ``update()`` changes a component in place,
    for ``current.card.refresh()`` while the task runs."""

    #: Components that need the vendored Vega scripts inlined in the card.
    needs_vega = False

    def render(self) -> Markup:
        raise NotImplementedError

    def update(self, *args: Any, **kwargs: Any) -> None:
        raise FlowlibError(f"{type(self).__name__} cannot be updated; append a new one.")


def _macro(macro_name: str, /, **kwargs: Any) -> Markup:
    from flowlib.cards.render import component_macro

    return Markup(component_macro(macro_name)(**kwargs))


class Markdown(CardComponent):
    """Markdown text (CommonMark). Raw HTML in the text is shown as text, not interpreted."""

    def __init__(self, text: str = "") -> None:
        self.text = str(text)

    def update(self, text: str | None = None) -> None:
        self.text = str(text or "")

    def render(self) -> Markup:
        from markdown_it import MarkdownIt

        # html=False: a "<script>" in the text stays text; links keep markdown-it's URL
        # validation (no javascript: URLs).
        html = MarkdownIt("commonmark", {"html": False}).enable("table").render(self.text)
        return _macro("markdown", html=Markup(html))


class Artifact(CardComponent):
    """Any value, shown as a preview: a DataFrame's head, an array's shape and statistics, a
    scalar, or a truncated repr."""

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True) -> None:
        self.value = artifact
        self.name = name
        self.compressed = compressed

    def update(self, artifact: Any) -> None:
        self.value = artifact

    def render(self) -> Markup:
        from flowlib.cards.preview import preview

        return _macro("artifact", name=self.name, preview=preview(self.value))


class Table(CardComponent):
    """Rows of cells; a cell is a value (shown as text) or another component."""

    def __init__(self, data: list[list[Any]] | None = None, headers: list[str] | None = None,
                 disable_updates: bool = False) -> None:
        self.data = [list(row) for row in (data or [])]
        self.headers = [str(h) for h in (headers or [])]

    @classmethod
    def from_dataframe(cls, dataframe: Any, truncate: bool = True, max_rows: int = 100
                       ) -> Table:
        """A table of a pandas DataFrame (its first ``max_rows`` rows when ``truncate``)."""
        frame = dataframe.head(max_rows) if truncate else dataframe
        headers = [str(c) for c in ([frame.index.name or ""] + list(frame.columns))]
        rows = [[index, *values] for index, values in zip(
            frame.index.tolist(), frame.itertuples(index=False, name=None), strict=True)]
        table = cls(rows, headers)
        table.total_rows = len(dataframe)
        return table

    total_rows: int | None = None

    def update(self, data: list[list[Any]]) -> None:
        self.data = [list(row) for row in data]

    def render(self) -> Markup:
        rows = [[_cell(value) for value in row] for row in self.data]
        more = (self.total_rows - len(rows)) if self.total_rows is not None else 0
        return _macro("table", headers=self.headers, rows=rows, more=max(more, 0))


def _cell(value: Any) -> Any:
    if isinstance(value, CardComponent):
        from flowlib.cards.render import render_component

        return render_component(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"RIFF", "image/webp"),
)


class Image(CardComponent):
    """A PNG, JPEG, GIF or WebP image, embedded in the card (no file next to it)."""

    def __init__(self, src: bytes, label: str | None = None) -> None:
        self.src = bytes(src)
        self.label = label
        self.mime = next((m for magic, m in _IMAGE_TYPES if self.src.startswith(magic)), None)
        if self.mime is None:
            raise FlowlibError(
                "Image() needs PNG, JPEG, GIF or WebP bytes; for a PIL image use "
                "Image.from_pil_image(img), for a matplotlib figure Image.from_matplotlib(fig)."
            )

    @classmethod
    def from_pil_image(cls, pilimage: Any, label: str | None = None) -> Image:
        buffer = io.BytesIO()
        pilimage.save(buffer, format="PNG")
        return cls(buffer.getvalue(), label)

    @classmethod
    def from_matplotlib(cls, plot: Any, label: str | None = None) -> Image:
        """From a matplotlib Figure (or an Axes: its figure is used)."""
        figure = plot.get_figure() if hasattr(plot, "get_figure") and not hasattr(
            plot, "savefig") else plot
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return cls(buffer.getvalue(), label)

    def update(self, src: bytes, label: str | None = None) -> None:
        self.__init__(src, label if label is not None else self.label)  # type: ignore[misc]

    def render(self) -> Markup:
        data = base64.b64encode(self.src).decode("ascii")
        return _macro("image", src=f"data:{self.mime};base64,{data}", label=self.label)


class VegaChart(CardComponent):
    """A Vega-Lite (or Vega) chart from its JSON spec, drawn by the Vega scripts inlined in
    the card (nothing is fetched when the card opens)."""

    needs_vega = True

    def __init__(self, spec: dict[str, Any], show_controls: bool = False) -> None:
        self.spec = _check_spec(spec)
        self.show_controls = show_controls

    @classmethod
    def from_altair_chart(cls, chart: Any) -> VegaChart:
        return cls(chart.to_dict())

    def update(self, spec: dict[str, Any]) -> None:
        self.spec = _check_spec(spec)

    def render(self) -> Markup:
        # Inside <script type="application/json">, "</" must not appear: escape it.
        spec = json.dumps(self.spec, default=str).replace("</", "<\\/")
        return _macro("vega", spec=Markup(spec))


def _check_spec(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise FlowlibError(
            f"VegaChart needs a Vega-Lite spec as a dict, got {type(spec).__name__}."
        )
    json.dumps(spec, default=str)
    return spec


class ProgressBar(CardComponent):
    """A progress bar: ``bar.update(value)`` then ``current.card.refresh()``."""

    def __init__(self, max: float = 100, label: str | None = None, value: float = 0,
                 unit: str | None = None, metadata: str | None = None) -> None:
        self.max = max
        self.label = label
        self.value = value
        self.unit = unit
        self.metadata = metadata

    def update(self, new_value: float, metadata: str | None = None) -> None:
        self.value = new_value
        if metadata is not None:
            self.metadata = metadata

    def render(self) -> Markup:
        percent = 0.0 if not self.max else max(0.0, min(100.0, 100.0 * self.value / self.max))
        return _macro("progress", label=self.label, value=self.value, max=self.max,
                      unit=self.unit or "", metadata=self.metadata, percent=percent)


class Error(CardComponent):
    """What the card shows in place of a component that failed to render."""

    def __init__(self, what: str, detail: str) -> None:
        self.what = what
        self.detail = detail

    def render(self) -> Markup:
        return _macro("error", what=self.what, detail=self.detail)


class Section(CardComponent):
    """A titled group of components (the default card's building block)."""

    def __init__(self, title: str, components: list[CardComponent]) -> None:
        self.title = title
        self.components = components

    def render(self) -> Markup:
        from flowlib.cards.render import render_component

        return _macro("section", title=self.title,
                      parts=[render_component(c) for c in self.components])


class Html(CardComponent):
    """HTML flowlib itself produced (the graph's SVG); not exported for users."""

    def __init__(self, html: Markup) -> None:
        self.html = html

    def render(self) -> Markup:
        return Markup(self.html)
