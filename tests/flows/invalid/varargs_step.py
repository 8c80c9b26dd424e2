"""Invalid: a step takes *args."""

from flowlib.flowspec import FlowSpec, step


class VarargsStepFlow(FlowSpec):
    @step
    def start(self, *args):  # <-- problem
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    VarargsStepFlow()
