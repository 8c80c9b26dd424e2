"""One step whose code must never run when its secrets cannot be read (error-case tests)."""

from flowlib import FlowSpec, step


class GuardedFlow(FlowSpec):
    @step
    def start(self):
        print("USER CODE RAN")
        self.next(self.end)

    @step
    def end(self):
        print("USER CODE RAN")


if __name__ == "__main__":
    GuardedFlow()
