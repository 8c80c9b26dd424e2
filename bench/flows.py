"""The bench flows, each written once and rendered for flowlib or for Metaflow.

``{lib}`` in a template becomes ``flowlib`` or ``metaflow``; nothing else differs, so both
libraries run exactly the same steps.
"""

from __future__ import annotations

from pathlib import Path

LINEAR = """
from {lib} import FlowSpec, step


class BenchLinearFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.a)

    @step
    def a(self):
        self.x += 1
        self.next(self.b)

    @step
    def b(self):
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        print("x =", self.x)


if __name__ == "__main__":
    BenchLinearFlow()
"""

FOREACH = """
from {lib} import FlowSpec, Parameter, step


class BenchForeachFlow(FlowSpec):
    n = Parameter("n", default=10, type=int)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.y = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total =", self.total)


if __name__ == "__main__":
    BenchForeachFlow()
"""

# Timestamps go to a file in the working directory (both libraries run tasks there): the save
# of self.arr happens after start() returns, so it lies between "assigned" and "load_begin".
ARTIFACT = """
import time

import numpy as np

from {lib} import FlowSpec, Parameter, step


def stamp(label):
    with open("timestamps.txt", "a") as out:
        out.write(f"{{label}} {{time.time()!r}}\\n")


class BenchArtifactFlow(FlowSpec):
    size = Parameter("size", default=1 << 30, type=int)

    @step
    def start(self):
        arr = np.random.default_rng().integers(0, 256, self.size, dtype=np.uint8)
        stamp("assigned")
        self.arr = arr
        self.next(self.load)

    @step
    def load(self):
        stamp("load_begin")
        checksum = int(self.arr[::4096].sum())
        stamp("loaded")
        self.checksum = checksum
        self.next(self.end)

    @step
    def end(self):
        print("checksum =", self.checksum)


if __name__ == "__main__":
    BenchArtifactFlow()
"""

TRIVIAL = """
from {lib} import FlowSpec, step


class BenchStoreFlow(FlowSpec):
    @step
    def start(self):
        self.value = 42
        self.payload = list(range(100))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BenchStoreFlow()
"""

FLOW_NAMES = {
    "linear": "BenchLinearFlow",
    "foreach": "BenchForeachFlow",
    "artifact": "BenchArtifactFlow",
    "store": "BenchStoreFlow",
}
TEMPLATES = {"linear": LINEAR, "foreach": FOREACH, "artifact": ARTIFACT, "store": TRIVIAL}


def write_flow(kind: str, lib: str, directory: Path) -> Path:
    """Render the ``kind`` flow for ``lib`` into ``directory``; return the file's path."""
    path = directory / f"{kind}_flow.py"
    path.write_text(TEMPLATES[kind].format(lib=lib).lstrip())
    return path
