"""One @batch step with its own resources between two local steps; a failing join can be
fixed for resume by removing the marker file."""

import os

from flowlib import FlowSpec, Parameter, batch, resources, step


class BatchMixedFlow(FlowSpec):
    marker = Parameter("marker", default="")

    @step
    def start(self):
        self.where_start = os.environ.get("AWS_BATCH_JOB_ID")
        self.next(self.remote, self.local)

    @resources(memory=3000)
    @batch(cpu=2, memory=2048, shared_memory=256)
    @step
    def remote(self):
        self.where = os.environ.get("AWS_BATCH_JOB_ID")
        self.value = 21
        self.next(self.join)

    @step
    def local(self):
        self.where = os.environ.get("AWS_BATCH_JOB_ID")
        self.value = 21
        self.next(self.join)

    @step
    def join(self, inputs):
        if self.marker and os.path.exists(self.marker):
            raise RuntimeError("join is broken while the marker exists")
        self.total = sum(i.value for i in inputs)
        self.places = {"remote": inputs.remote.where, "local": inputs.local.where}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BatchMixedFlow()
