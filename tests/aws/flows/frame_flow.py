"""DataFrames as artifacts: one Parquet-safe, one that falls back to pickle5."""

import pandas as pd

from flowlib import FlowSpec, step


class FrameFlow(FlowSpec):
    @step
    def start(self):
        self.df = pd.DataFrame(
            {
                "i": [1, 2, 3],
                "s": ["a", "b", None],
                "n": pd.array([1, None, 3], dtype="Int64"),
                "c": pd.Categorical(["x", "y", "x"]),
            }
        )
        self.lists = pd.DataFrame({"l": [[1, 2], [3], []]})
        self.next(self.end)

    @step
    def end(self):
        self.total = int(self.df["i"].sum())


if __name__ == "__main__":
    FrameFlow()
