"""@timeout: a step that would sleep for a minute is stopped after one second."""

import time

from flowlib import FlowSpec, step, timeout


class TimeoutFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.sleepy)

    @timeout(seconds=1)
    @step
    def sleepy(self):
        print("going to sleep", flush=True)
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TimeoutFlow()
