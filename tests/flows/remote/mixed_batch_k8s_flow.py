"""One @batch step and one @kubernetes step in the same run, joined on this machine."""

import os

from flowlib import FlowSpec, batch, kubernetes, step


class MixedBatchK8sFlow(FlowSpec):
    @step
    def start(self):
        self.base = 20
        self.next(self.on_batch, self.on_k8s)

    @batch(cpu=1, memory=1024)
    @step
    def on_batch(self):
        self.where = "batch" if os.environ.get("AWS_BATCH_JOB_ID") else "?"
        self.value = self.base + 1
        self.next(self.join)

    @kubernetes(cpu=1, memory=1024)
    @step
    def on_k8s(self):
        self.where = "kubernetes" if os.environ.get("FLOWLIB_USER") else "?"
        self.value = self.base + 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.places = sorted(i.where for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MixedBatchK8sFlow()
