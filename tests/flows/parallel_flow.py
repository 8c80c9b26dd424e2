"""Two branches that each sleep; their recorded times show whether they overlapped."""

import time

from flowlib import FlowSpec, step


class ParallelFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.began = time.time()
        time.sleep(1.0)
        self.ended = time.time()
        self.next(self.join)

    @step
    def b(self):
        self.began = time.time()
        time.sleep(1.0)
        self.ended = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.spans = sorted((i.began, i.ended) for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelFlow()
