"""A foreach whose tasks record how long stage 0 took to start them (bench/remote)."""

import os

from flowlib import FlowSpec, Parameter, step


class Stage0ForeachFlow(FlowSpec):
    width = Parameter("width", default=8)

    @step
    def start(self):
        self.stage0_seconds = float(os.environ.get("FLOWLIB_STAGE0_SECONDS", "nan"))
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.stage0_seconds = float(os.environ.get("FLOWLIB_STAGE0_SECONDS", "nan"))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.work_seconds = [i.stage0_seconds for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    Stage0ForeachFlow()
