"""Invalid: a step name has uppercase letters."""

from flowlib.flowspec import FlowSpec, step


class UppercaseStepNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.Train)

    @step
    def Train(self):  # <-- problem  # noqa: N802
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UppercaseStepNameFlow()
