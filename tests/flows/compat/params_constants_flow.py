"""Parameters from the environment, Parameter(separator=) and class-level constants."""

from flowlib import FlowSpec, Parameter, step


class ParamsConstantsFlow(FlowSpec):
    LIMIT = 5
    LABELS = ("x", "y")

    alpha = Parameter("alpha", default=1)
    items = Parameter("items", default="a,b", separator=",")
    numbers = Parameter("numbers", type=int, default="1", separator=";")
    assign = Parameter("assign", default=False)

    @step
    def start(self):
        self.seen = {"alpha": self.alpha, "items": self.items, "numbers": self.numbers}
        if self.assign:
            self.LIMIT = 6
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.join)

    @step
    def right(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.limit_in_join = self.LIMIT
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamsConstantsFlow()
