"""Invalid: the branches of one split end in two different joins."""

from flowlib.flowspec import FlowSpec, step


class PartialJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.join_ab)

    @step
    def b(self):
        self.next(self.join_ab)

    @step
    def join_ab(self, inputs):  # <-- problem
        self.next(self.join_all)

    @step
    def c(self):
        self.next(self.join_all)

    @step
    def join_all(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PartialJoinFlow()
