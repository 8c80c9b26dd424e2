"""Invalid: a step takes inputs but nothing splits before it."""

from flowlib.flowspec import FlowSpec, step


class JoinJoinsNothingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.merge)

    @step
    def merge(self, inputs):  # <-- problem
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinJoinsNothingFlow()
