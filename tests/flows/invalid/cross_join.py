"""Invalid: a join joins branches of two different splits."""

from flowlib.flowspec import FlowSpec, step


class CrossJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.l1, self.l2)

    @step
    def l1(self):
        self.next(self.cross)

    @step
    def l2(self):
        self.next(self.join_left)

    @step
    def right(self):
        self.next(self.cross)

    @step
    def cross(self, inputs):  # <-- problem
        self.next(self.join_left)

    @step
    def join_left(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CrossJoinFlow()
