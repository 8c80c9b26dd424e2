"""Faults and bad input (issue 10): a big value for disk-full tests, a step that can be made to
wait (INTEGRITY_SLEEP) so its runtime can be killed under it, and a value of a class defined in
the flow file itself."""

import os
import time

from flowlib import FlowSpec, Parameter, step


class Point:  # defined in the flow file on purpose: only __main__ knows it
    def __init__(self, x):
        self.x = x


class IntegrityFlow(FlowSpec):
    kib = Parameter("kib", default=1, help="Size of the stored random value, in KiB.")

    @step
    def start(self):
        self.point = Point(3)
        self.payload = os.urandom(int(self.kib) * 1024)
        self.next(self.middle)

    @step
    def middle(self):
        marker = os.environ.get("INTEGRITY_MARKER")
        if marker:
            with open(marker, "w") as out:
                out.write(str(os.getpid()))
        time.sleep(float(os.environ.get("INTEGRITY_SLEEP", "0")))
        self.size = len(self.payload)
        self.next(self.end)

    @step
    def end(self):
        print(f"stored {self.size} bytes")


if __name__ == "__main__":
    IntegrityFlow()
