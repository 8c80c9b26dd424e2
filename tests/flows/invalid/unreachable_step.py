"""Invalid: a step is never reached from start."""

from flowlib.flowspec import FlowSpec, step


class UnreachableStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def orphan(self):  # <-- problem
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnreachableStepFlow()
