"""Invalid: self.next() names a step that does not exist."""

from flowlib.flowspec import FlowSpec, step


class UnknownTargetFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.ned)  # <-- problem

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnknownTargetFlow()
