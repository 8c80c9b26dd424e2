"""Liveness on Step Functions: the step ``hold`` waits while the file named by the parameter
``hold`` exists (at most 5 minutes), so a test can stop the execution or let it time out
meanwhile, then remove the file and resume the run."""

import os
import time

from flowlib import FlowSpec, Parameter, step


class HoldFlow(FlowSpec):
    hold = Parameter("hold", default="")

    @step
    def start(self):
        self.started = True
        self.next(self.wait)

    @step
    def wait(self):
        deadline = time.time() + 300
        while self.hold and os.path.exists(self.hold) and time.time() < deadline:
            time.sleep(0.2)
        self.waited = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HoldFlow()
