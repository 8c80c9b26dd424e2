"""Invalid: self.next() is called with no arguments."""

from flowlib.flowspec import FlowSpec, step


class NextWithoutTargetFlow(FlowSpec):
    @step
    def start(self):
        self.next()  # <-- problem

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NextWithoutTargetFlow()
