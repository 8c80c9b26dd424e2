"""Cards: a default card, a blank card filled with every component (one of them broken), and
a card refreshed while its task waits for a signal file."""

import os
import struct
import time
import zlib

from flowlib import FlowSpec, Parameter, card, current, step
from flowlib.cards import Artifact, Image, Markdown, ProgressBar, Table, VegaChart
from flowlib.cards.components import CardComponent


def tiny_png() -> bytes:
    """A 2x2 red PNG, made by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


class Broken(CardComponent):
    def render(self):
        raise ValueError("this component is broken on purpose")


class CardFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)
    signal = Parameter("signal", default="")

    @card
    @step
    def start(self):
        import pandas as pd

        self.frame = pd.DataFrame({"x": [1, 2, 3], "label": ["<b>a</b>", "b", "c"]})
        self.numbers = list(range(10))
        self.next(self.report)

    @card(type="blank", id="report")
    @card(type="blank", id="other")
    @step
    def report(self):
        current.card["report"].append(Markdown("# Results\n\nSome *markdown* <script>x</script>"))
        current.card["report"].append(Table([[1, "one"], [2, Markdown("**two**")]], ["n", "w"]))
        current.card["report"].append(Table.from_dataframe(self.frame))
        current.card["report"].append(Image(tiny_png(), label="red square"))
        current.card["report"].append(Broken())
        current.card["report"].append(VegaChart({
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "data": {"values": [{"a": "A", "b": 28}, {"a": "B", "b": 55}]},
            "mark": "bar", "encoding": {"x": {"field": "a", "type": "nominal"},
                                        "y": {"field": "b", "type": "quantitative"}},
        }))
        current.card["report"].append(Artifact(self.numbers, name="numbers"))
        current.card["other"].append(Markdown("the other card"))
        current.card["missing"].append(Markdown("zq-dropped-qz"))
        self.next(self.live)

    @card(type="blank")
    @step
    def live(self):
        bar = ProgressBar(max=10, label="progress")
        current.card.append(bar)
        bar.update(3)
        current.card.refresh()
        if self.signal:
            with open(self.signal + ".refreshed", "w") as handle:
                handle.write("1")
            deadline = time.time() + 120
            while not os.path.exists(self.signal) and time.time() < deadline:
                time.sleep(0.1)
        bar.update(10)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CardFlow()
