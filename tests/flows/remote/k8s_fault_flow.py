"""A step on Kubernetes for failure tests: the test controller makes its Job fail on demand
(image pull, unschedulable pod, deadline, OOM kill); SLEEP keeps it running for kill tests."""

import os
import time

from flowlib import FlowSpec, kubernetes, step, timeout


class K8sFaultFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @kubernetes
    @timeout(seconds=60)
    @step
    def work(self):
        print("working", flush=True)
        time.sleep(float(os.environ.get("SLEEP", "0")))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    K8sFaultFlow()
