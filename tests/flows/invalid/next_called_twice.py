"""Invalid: self.next() is called in both arms of an if."""

from flowlib.flowspec import FlowSpec, step


class NextCalledTwiceFlow(FlowSpec):
    @step
    def start(self):
        self.ok = True
        self.next(self.a)

    @step
    def a(self):
        if self.ok:
            self.next(self.b)
        else:
            self.next(self.end)  # <-- problem

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NextCalledTwiceFlow()
