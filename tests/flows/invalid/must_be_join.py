"""Invalid: the branches of a split meet at a step that does not take inputs."""

from flowlib.flowspec import FlowSpec, step


class MustBeJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.merge)

    @step
    def b(self):
        self.next(self.merge)

    @step
    def merge(self):  # <-- problem
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MustBeJoinFlow()
