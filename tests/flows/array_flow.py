"""Numpy artifacts: a large array, a compressible one, and the same value in two steps."""

import numpy as np

from flowlib import FlowSpec, Parameter, step


class ArrayFlow(FlowSpec):
    kib = Parameter("kib", default=8192)

    @step
    def start(self):
        rng = np.random.default_rng(7)
        self.noise = rng.integers(0, 256, size=self.kib << 10, dtype=np.uint8)
        self.zeros = np.zeros(4 << 20, dtype=np.float64)
        self.constant = "the same value"
        self.next(self.end)

    @step
    def end(self):
        self.noise_sum = int(self.noise[::4096].astype(np.int64).sum())
        self.noise[0] = 255  # loaded arrays are writable, as in Metaflow
        self.constant_again = "the same value"


if __name__ == "__main__":
    ArrayFlow()
