"""A conditional branch: the value of self.mode picks the next step."""

from flowlib import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    mode = Parameter("mode", default="fast")

    @step
    def start(self):
        self.choice = self.mode
        self.next({"fast": self.fast, "slow": self.slow}, condition="choice")

    @step
    def fast(self):
        self.path = "fast"
        self.next(self.after)

    @step
    def slow(self):
        self.path = "slow"
        self.next(self.after)

    @step
    def after(self):
        self.result = f"took {self.path}"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchFlow()
