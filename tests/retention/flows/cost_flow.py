"""A flow whose steps ask for resources (cost tests)."""

from flowlib import FlowSpec, resources, step


class CostFlow(FlowSpec):
    @resources(cpu=2, memory=1024)
    @step
    def start(self):
        self.values = list(range(100))
        print("working")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CostFlow()
