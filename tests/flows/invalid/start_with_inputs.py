"""Invalid: the start step takes inputs."""

from flowlib.flowspec import FlowSpec, step


class StartWithInputsFlow(FlowSpec):
    @step
    def start(self, inputs):  # <-- problem
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StartWithInputsFlow()
