"""A single step on an image whose flowlib is not the launching machine's: it records the
flowlib it ran with."""

from flowlib import FlowSpec, batch, step


class BatchVersionFlow(FlowSpec):
    @batch(image="flowlib-runtime:old")
    @step
    def start(self):
        from flowlib.version import __version__

        self.version = __version__
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BatchVersionFlow()
