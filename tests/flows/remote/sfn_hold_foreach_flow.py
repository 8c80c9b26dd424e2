"""Terminate on Step Functions inside a foreach: each split of ``wait`` holds while the file
named by ``hold`` exists (at most 5 minutes), so a test can terminate the run while the Map's
iterations run (inline or Distributed, chosen at create)."""

import os
import time

from flowlib import FlowSpec, Parameter, step


class HoldForeachFlow(FlowSpec):
    hold = Parameter("hold", default="")
    width = Parameter("width", default=3)

    @step
    def start(self):
        self.items = list(range(int(self.width)))
        self.next(self.wait, foreach="items")

    @step
    def wait(self):
        deadline = time.time() + 300
        while self.hold and os.path.exists(self.hold) and time.time() < deadline:
            time.sleep(0.2)
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HoldForeachFlow()
