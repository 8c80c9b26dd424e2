"""Invalid: inside a foreach, a switch branch goes to end and skips the join."""

from flowlib.flowspec import FlowSpec, step


class SwitchSkipsJoinFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.kind = "small" if self.input < 2 else "big"
        self.next({"small": self.small, "big": self.big}, condition="kind")

    @step
    def small(self):
        self.next(self.end)  # <-- problem

    @step
    def big(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchSkipsJoinFlow()
