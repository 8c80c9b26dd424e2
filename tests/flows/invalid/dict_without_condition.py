"""Invalid: a dict of cases is given without condition=."""

from flowlib.flowspec import FlowSpec, step


class DictWithoutConditionFlow(FlowSpec):
    @step
    def start(self):
        self.flag = "yes"
        self.next({"yes": self.a, "no": self.b})  # <-- problem

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
    DictWithoutConditionFlow()
