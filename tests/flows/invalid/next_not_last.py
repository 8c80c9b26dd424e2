"""Invalid: self.next() is not the last statement of the step."""

from flowlib.flowspec import FlowSpec, step


class NextNotLastFlow(FlowSpec):
    @step
    def start(self):
        self.ready = True
        if self.ready:
            self.next(self.end)  # <-- problem

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NextNotLastFlow()
