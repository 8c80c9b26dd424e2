"""A step that fails in the way --how says, next to a sibling branch that succeeds."""

import ctypes
import os
import signal
import threading

from flowlib import FlowSpec, Parameter, step


class CrashFlow(FlowSpec):
    how = Parameter("how", default="raise", help="raise|exit|segfault|sigkill|unpicklable")

    @step
    def start(self):
        self.next(self.bad, self.good)

    @step
    def good(self):
        self.fine = True
        self.next(self.join)

    @step
    def bad(self):
        if self.how == "raise":
            raise ValueError("the model diverged")
        if self.how == "exit":
            os._exit(7)
        if self.how == "segfault":
            ctypes.string_at(0)
        if self.how == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.how == "unpicklable":
            self.lock = threading.Lock()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CrashFlow()
