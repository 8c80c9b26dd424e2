"""Invalid: self.next() goes to a method that is not a @step."""

from flowlib.flowspec import FlowSpec, step


class TargetNotStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.prepare)  # <-- problem

    def prepare(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TargetNotStepFlow()
