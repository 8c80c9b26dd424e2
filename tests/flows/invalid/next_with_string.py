"""Invalid: the target of self.next() is a string, not self.<step>."""

from flowlib.flowspec import FlowSpec, step


class NextWithStringFlow(FlowSpec):
    @step
    def start(self):
        self.next("end")  # <-- problem

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NextWithStringFlow()
