"""Invalid: a switch branch goes straight to a join step."""

from flowlib.flowspec import FlowSpec, step


class SwitchIntoJoinFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.big = self.input > 1
        self.next({"True": self.heavy, "False": self.join}, condition="big")

    @step
    def heavy(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # <-- problem
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchIntoJoinFlow()
