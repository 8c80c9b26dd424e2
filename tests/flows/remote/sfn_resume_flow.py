"""Resume on Step Functions: the join is broken in the first version of this file; the test
fixes the code, re-deploys and resumes, reusing start and the foreach tasks."""

from flowlib import FlowSpec, step


class ResumeMeFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(4))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        raise RuntimeError("join is broken")
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResumeMeFlow()
