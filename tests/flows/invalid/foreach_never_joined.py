"""Invalid: a foreach reaches end without a join."""

from flowlib.flowspec import FlowSpec, step


class ForeachNeverJoinedFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")  # <-- problem

    @step
    def body(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachNeverJoinedFlow()
