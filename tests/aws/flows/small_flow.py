"""A two-step flow storing one small and one large artifact."""

import os

from flowlib import FlowSpec, Parameter, step


class SmallFlow(FlowSpec):
    mib = Parameter("mib", default=0)

    @step
    def start(self):
        self.greeting = "hello"
        self.blob = os.urandom(self.mib << 20) if self.mib else b""
        self.next(self.end)

    @step
    def end(self):
        self.size = len(self.blob)


if __name__ == "__main__":
    SmallFlow()
