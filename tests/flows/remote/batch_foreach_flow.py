"""A wide foreach for AWS Batch tests: each task records the Batch job it ran in."""

import os
import time

from flowlib import FlowSpec, Parameter, step


class BatchForeachFlow(FlowSpec):
    width = Parameter("width", default=50)
    sleep = Parameter("sleep", default=0.0)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        time.sleep(self.sleep)
        self.square = self.input * self.input
        self.job = os.environ.get("AWS_BATCH_JOB_ID")
        print(f"square of {self.input} is {self.square}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.jobs = [i.job for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(f"total {self.total}")


if __name__ == "__main__":
    BatchForeachFlow()
