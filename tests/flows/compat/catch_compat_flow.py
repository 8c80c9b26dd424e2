"""@catch on the end step, @timeout raising inside a step, local @retry with its default wait."""

import time

from flowlib import FlowSpec, catch, current, retry, step, timeout


class CatchCompatFlow(FlowSpec):
    @retry(times=1)  # default minutes_between_retries=2: a local retry must not wait
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("flaky once")
        self.next(self.slow)

    @catch(var="timed_out")
    @timeout(seconds=1)
    @step
    def slow(self):
        self.before = "kept"
        time.sleep(60)
        self.after = "never"
        self.next(self.end)

    @catch(var="end_error")
    @step
    def end(self):
        self.partial = "set before the error"
        raise KeyError("missing")


if __name__ == "__main__":
    CatchCompatFlow()
