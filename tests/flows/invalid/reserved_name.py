"""Invalid: a step is named after a FlowSpec attribute."""

from flowlib.flowspec import FlowSpec, step


class ReservedNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.merge_artifacts)

    @step
    def merge_artifacts(self):  # <-- problem
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReservedNameFlow()
