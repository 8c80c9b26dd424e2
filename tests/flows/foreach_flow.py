"""Nested foreach with input, index and foreach_stack, and joins at both levels."""

from flowlib import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    width = Parameter("width", default=3)

    @step
    def start(self):
        self.letters = ["a", "b", "c", "d", "e"][: self.width]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self):
        self.letter = self.input
        self.numbers = [1, 2]
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self):
        self.cell = f"{self.letter}{self.input}"
        self.stack = [(i, n, v) for i, n, v in self.foreach_stack()]
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.cells = [i.cell for i in inputs]
        self.stacks = [i.stack for i in inputs]
        self.letter = inputs[0].letter
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.grid = {i.letter: i.cells for i in inputs}
        self.stacks = [s for i in inputs for s in i.stacks]
        self.next(self.end)

    @step
    def end(self):
        print(sorted(self.grid))


if __name__ == "__main__":
    ForeachFlow()
