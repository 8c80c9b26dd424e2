"""Invalid: the end step calls self.next()."""

from flowlib.flowspec import FlowSpec, step


class EndCallsNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.start)  # <-- problem


if __name__ == "__main__":
    EndCallsNextFlow()
