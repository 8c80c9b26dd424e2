"""Records where flowlib and its dependencies came from in the task's process."""

import os
import sys

from flowlib import FlowSpec, step


class AnyImageFlow(FlowSpec):
    @step
    def start(self):
        import boto3

        import flowlib

        self.flowlib_file = flowlib.__file__
        self.boto3_file = boto3.__file__
        self.python_prefix = sys.prefix
        self.stage0_seconds = float(os.environ.get("FLOWLIB_STAGE0_SECONDS", "nan"))
        self.next(self.end)

    @step
    def end(self):
        self.stage0_seconds = float(os.environ.get("FLOWLIB_STAGE0_SECONDS", "nan"))


if __name__ == "__main__":
    AnyImageFlow()
