"""Invalid: the end step takes inputs (end cannot be a join)."""

from flowlib.flowspec import FlowSpec, step


class EndIsJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self, inputs):  # <-- problem
        pass


if __name__ == "__main__":
    EndIsJoinFlow()
