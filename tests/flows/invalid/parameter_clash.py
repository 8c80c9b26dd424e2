"""Invalid: a step has the same name as a Parameter."""

from flowlib.flowspec import FlowSpec, step
from flowlib.parameters import Parameter


class ParameterClashFlow(FlowSpec):
    alpha = Parameter("learning-rate", default=0.1)

    @step
    def start(self):
        self.next(self.learning_rate)

    @step
    def learning_rate(self):  # <-- problem
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParameterClashFlow()
