"""Graph shapes with switches: a switch inside a static branch, a foreach inside a switch."""

from flowlib import FlowSpec, Parameter, step


class SwitchShapesFlow(FlowSpec):
    mode = Parameter("mode", default="x")
    route = Parameter("route", default="fan")

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.choice = self.mode
        self.next({"x": self.ax, "y": self.ay}, condition="choice")

    @step
    def ax(self):
        self.took = "ax"
        self.next(self.join)

    @step
    def ay(self):
        self.took = "ay"
        self.next(self.join)

    @step
    def b(self):
        self.took = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.paths = sorted(i.took for i in inputs)
        self.next(self.pick)

    @step
    def pick(self):
        self.next({"fan": self.fan, "skip": self.skip}, condition="route")

    @step
    def fan(self):
        self.values = [1, 2, 3]
        self.next(self.square, foreach="values")

    @step
    def square(self):
        self.sq = self.input * self.input
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.total = sum(i.sq for i in inputs)
        self.next(self.done)

    @step
    def skip(self):
        self.total = 0
        self.next(self.done)

    @step
    def done(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchShapesFlow()
