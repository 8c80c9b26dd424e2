"""Card components render to self-contained, escaped HTML (unit tests, no flow run)."""

from __future__ import annotations

import re

import pytest

from flowlib.cards import Artifact, Image, Markdown, ProgressBar, Table, VegaChart
from flowlib.cards.components import CardComponent
from flowlib.cards.render import render_card, render_component
from flowlib.exceptions import FlowlibError
from tests.flows.card_flow import tiny_png


def test_markdown_renders_and_keeps_raw_html_as_text():
    html = render_component(Markdown("# Title\n\n*em* <script>alert(1)</script>"))
    assert "<h1>Title</h1>" in html and "<em>em</em>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_markdown_refuses_javascript_links():
    html = render_component(Markdown("[x](javascript:alert(1))"))
    assert "href=\"javascript" not in html and "<a" not in html


def test_table_cells_are_text_or_components():
    html = render_component(Table([[1, "<b>x</b>"], [2.5, Markdown("**y**")]], ["n", "v"]))
    assert "<th>n</th>" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<strong>y</strong>" in html and "<td>2.5</td>" in html


def test_table_from_dataframe_truncates():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": range(300), "b": ["<i>"] * 300})
    table = Table.from_dataframe(frame, max_rows=10)
    html = render_component(table)
    assert html.count("<tr>") == 11  # header + 10 rows
    assert "290 more rows not shown" in html and "&lt;i&gt;" in html


def test_image_from_bytes_and_refuses_other_bytes():
    html = render_component(Image(tiny_png(), label="sq"))
    assert 'src="data:image/png;base64,' in html and "<figcaption>sq</figcaption>" in html
    with pytest.raises(FlowlibError, match="PNG, JPEG, GIF or WebP"):
        Image(b"not an image")


def test_image_from_pil_and_matplotlib_when_installed():
    try:
        from PIL import Image as PILImage
    except ImportError:
        PILImage = None
    if PILImage is not None:
        html = render_component(Image.from_pil_image(PILImage.new("RGB", (3, 3))))
        assert "data:image/png;base64" in html
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        figure, axes = plt.subplots()
        axes.plot([1, 2, 3])
        assert "data:image/png;base64" in render_component(Image.from_matplotlib(figure))
        assert "data:image/png;base64" in render_component(Image.from_matplotlib(axes))
    if PILImage is None and plt is None:
        pytest.skip("neither Pillow nor matplotlib is installed")


def test_vega_chart_inlines_the_vendored_scripts_only_when_needed():
    spec = {"mark": "bar", "data": {"values": [{"a": "</script><script>alert(1)"}]}}
    page = render_card("t", "s", [VegaChart(spec)])
    assert "vegaEmbed" in page and page.count("<script>") >= 4
    assert "</script><script>alert(1)" not in page  # "</" is escaped inside the JSON
    assert "vegaEmbed(" not in render_card("t", "s", [Markdown("x")])
    assert len(render_card("t", "s", [Markdown("x")])) < 20_000


def test_card_asks_for_nothing_from_the_network():
    page = render_card("t", "s", [VegaChart({"mark": "point"}), Image(tiny_png())])
    assert "default-src 'none'" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)


def test_artifact_and_progress_bar():
    html = render_component(Artifact([1, 2, "<x>"], name="<name>"))
    assert "&lt;name&gt;" in html and "list, 3 items" in html and "&lt;x&gt;" in html
    bar = ProgressBar(max=8, label="p")
    bar.update(2, metadata="step 2")
    html = render_component(bar)
    assert "width: 25.0%" in html and "step 2" in html


def test_a_failing_component_renders_its_error_and_the_rest_of_the_card():
    class Broken(CardComponent):
        def render(self):
            raise ValueError("broken <on purpose>")

    page = render_card("t", "s", [Markdown("before"), Broken(), "not a component",
                                  Markdown("after")])
    assert "before" in page and "after" in page
    assert "Broken failed to render" in page and "broken &lt;on purpose&gt;" in page
    assert "str is not a card component" in page


def test_title_is_escaped():
    assert "<b>" not in render_card("<b>flow</b>", "s", [])
