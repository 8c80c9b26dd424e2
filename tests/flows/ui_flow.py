"""A flow for the web UI's tests: a foreach of ``width`` tasks, a card, a step that fails on
request, a step that waits for a file (a run that stays running), and user text made to look
like HTML (an artifact name and a log line)."""

import os
import time

from flowlib import FlowSpec, Parameter, card, current, step
from flowlib.cards import Markdown, ProgressBar

XSS = "<img src=x onerror=window.__xss=1>"


class UiFlow(FlowSpec):
    width = Parameter("width", default=3)
    fail = Parameter("fail", default=False, type=bool)
    wait = Parameter("wait", default="")

    @step
    def start(self):
        self.items = list(range(self.width))
        print(f"log line {XSS}")
        setattr(self, XSS, "artifact named like HTML")
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.square for i in inputs)
        self.next(self.report)

    @card(type="blank", id="summary")
    @step
    def report(self):
        current.card["summary"].append(Markdown(f"# Total\n\nThe total is **{self.total}**."))
        current.card["summary"].append(ProgressBar(max=10, value=7, label="done"))
        if self.fail:
            print("about to fail", flush=True)
            raise RuntimeError(f"report failed on purpose {XSS}")
        if self.wait:
            print("waiting for the signal file", flush=True)
            deadline = time.time() + 600
            while not os.path.exists(self.wait) and time.time() < deadline:
                time.sleep(0.2)
        self.next(self.end)

    @step
    def end(self):
        print(f"total {self.total}")


if __name__ == "__main__":
    UiFlow()
