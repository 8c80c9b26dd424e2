"""Invalid: the flow has no start step."""

from flowlib.flowspec import FlowSpec, step


class MissingStartFlow(FlowSpec):  # <-- problem
    @step
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MissingStartFlow()
