"""Invalid: foreach= is a variable, not a string literal."""

from flowlib.flowspec import FlowSpec, step


class ForeachNotLiteralFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        name = "items"
        self.next(self.body, foreach=name)  # <-- problem

    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ForeachNotLiteralFlow()
