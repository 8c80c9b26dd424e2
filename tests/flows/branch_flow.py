"""A static split and join, inputs by step name, and merge_artifacts."""

from flowlib import FlowSpec, step


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.shared = "same everywhere"
        self.base = 10
        self.next(self.left, self.right)

    @step
    def left(self):
        self.value = self.base + 1
        self.only_left = "L"
        self.next(self.join)

    @step
    def right(self):
        self.value = self.base + 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.value = inputs.left.value + inputs.right.value
        self.from_index = [i.value for i in inputs]
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BranchFlow()
