"""Two steps need different versions of six; one step has no environment of its own."""

import sys

from flowlib import FlowSpec, pypi, pypi_base, step


@pypi_base(packages={"six": "1.16.0"})
class TwoVersionsFlow(FlowSpec):
    @step
    def start(self):
        import six

        self.start_six = six.__version__
        self.start_prefix = sys.prefix
        self.next(self.middle)

    @pypi(disabled=True)
    @step
    def middle(self):
        self.middle_prefix = sys.prefix
        self.next(self.end)

    @pypi(packages={"six": "1.17.0"})
    @step
    def end(self):
        import six

        self.end_six = six.__version__
        self.end_prefix = sys.prefix


if __name__ == "__main__":
    TwoVersionsFlow()
