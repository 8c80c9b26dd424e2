"""@conda with a PyPI-installable package, through the same uv path."""

from flowlib import FlowSpec, conda, step


class CondaFlow(FlowSpec):
    @conda(packages={"six": "1.16.0"}, python="3.11")
    @step
    def start(self):
        import six

        self.six = six.__version__
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CondaFlow()
