"""Invalid: a step other than end never calls self.next()."""

from flowlib.flowspec import FlowSpec, step


class MissingNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):  # <-- problem
        self.model = "fitted"

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MissingNextFlow()
