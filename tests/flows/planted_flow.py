"""A flow whose step plants a pickle that runs code when read (the threat safe loading stops):
``model`` unpickles by calling ``exec``, which writes the file named by PLANTED_MARKER."""

import os
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from flowlib import FlowSpec, step


class _Planted:
    """Pickles as a call to exec: unpickling it runs the code below in the reader's process."""

    def __init__(self, marker: str) -> None:
        self.code = f"open({marker!r}, 'w').write('code ran in the reader')"

    def __reduce__(self):
        return (exec, (self.code,))


class PlantedFlow(FlowSpec):
    @step
    def start(self):
        self.scores = np.arange(100_000, dtype=np.float64)  # out-of-band buffer
        self.frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})  # Parquet
        self.report = {"n": 2, "when": None, "tags": ("a", "b")}
        self.where = PurePosixPath("/data/x")  # a harmless class, still not a data type
        self.model = _Planted(os.environ["PLANTED_MARKER"])
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PlantedFlow()
