"""Invalid: condition= is given but the targets are not a dict."""

from flowlib.flowspec import FlowSpec, step


class ConditionWithoutDictFlow(FlowSpec):
    @step
    def start(self):
        self.flag = "yes"
        self.next(self.a, self.b, condition="flag")  # <-- problem

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConditionWithoutDictFlow()
