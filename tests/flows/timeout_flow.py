"""@timeout: a step that would sleep for a minute is stopped after one second (--stubborn:
the step swallows the TimeoutException and is killed after the grace period)."""

import time

from flowlib import FlowSpec, Parameter, step, timeout


class TimeoutFlow(FlowSpec):
    stubborn = Parameter("stubborn", default=False, help="swallow the TimeoutException")

    @step
    def start(self):
        self.next(self.sleepy)

    @timeout(seconds=1)
    @step
    def sleepy(self):
        print("going to sleep", flush=True)
        try:
            time.sleep(60)
        except Exception:
            if not self.stubborn:
                raise
            print("ignoring the timeout", flush=True)
            time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TimeoutFlow()
