"""Resume: every task appends to a ledger file; the join fails while FAIL_JOIN is set.
Tasks sleep SLEEP seconds so that a test can kill the runtime mid-run."""

import os
import time

from flowlib import FlowSpec, Parameter, current, step


def record(what: str) -> None:
    with open(os.environ["LEDGER"], "a") as ledger:
        ledger.write(f"{current.run_id} {what}\n")


class ResumeFlow(FlowSpec):
    n = Parameter("n", default=4)

    @step
    def start(self):
        record("start")
        self.items = list(range(self.n))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        time.sleep(float(os.environ.get("SLEEP", "0")))
        record(f"work {self.input}")
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        record("join")
        if os.environ.get("FAIL_JOIN"):
            raise RuntimeError("join is broken")
        self.total = sum(i.square for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        record("end")


if __name__ == "__main__":
    ResumeFlow()
