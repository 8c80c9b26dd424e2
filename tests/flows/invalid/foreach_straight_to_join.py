"""Invalid: a foreach goes directly to its join (Metaflow rejects this)."""

from flowlib.flowspec import FlowSpec, step


class ForeachStraightToJoinFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.join, foreach="items")  # <-- problem

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachStraightToJoinFlow()
