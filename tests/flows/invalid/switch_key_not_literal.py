"""Invalid: a switch case key is a variable, not a string literal."""

from flowlib.flowspec import FlowSpec, step


class SwitchKeyNotLiteralFlow(FlowSpec):
    @step
    def start(self):
        self.flag = "yes"
        yes = "yes"
        self.next(
            {
                yes: self.a,  # <-- problem
                "no": self.b,
            },
            condition="flag",
        )

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
    SwitchKeyNotLiteralFlow()
