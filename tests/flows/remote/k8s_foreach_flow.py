"""A wide foreach and its join: every branch runs as its own Job under --with kubernetes."""

from flowlib import FlowSpec, Parameter, current, step


class K8sForeachFlow(FlowSpec):
    n = Parameter("n", default=50)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input * self.input
        self.where = current.pathspec
        print(f"square {self.input}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.total = sum(self.values)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    K8sForeachFlow()
