"""No environment decorator: --with pypi gives every step one."""

import sys

from flowlib import FlowSpec, step


class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.prefix = sys.prefix
        self.next(self.end)

    @step
    def end(self):
        import six

        self.six = six.__version__


if __name__ == "__main__":
    PlainFlow()
