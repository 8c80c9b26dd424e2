"""Invalid: the flow has no end step."""

from flowlib.flowspec import FlowSpec, step


class MissingEndFlow(FlowSpec):  # <-- problem
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):
        self.next(self.end)


if __name__ == "__main__":
    MissingEndFlow()
