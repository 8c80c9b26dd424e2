"""A recursive switch (a step that repeats itself until a condition holds), also inside a
foreach."""

from flowlib import FlowSpec, Parameter, step


class RecursiveSwitchFlow(FlowSpec):
    target = Parameter("target", default=3)

    @step
    def start(self):
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.status = "done" if self.count >= self.target else "again"
        self.next({"again": self.loop, "done": self.after}, condition="status")

    @step
    def after(self):
        self.items = ["a", "b"]
        self.n = 0
        self.next(self.inner, foreach="items")

    @step
    def inner(self):
        self.n += 1
        self.word = self.input * self.n
        self.more = "yes" if self.n < 2 else "no"
        self.next({"yes": self.inner, "no": self.gather}, condition="more")

    @step
    def gather(self, inputs):
        self.words = sorted(i.word for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RecursiveSwitchFlow()
