"""A single step on an image whose flowlib is not the launching machine's."""

from flowlib import FlowSpec, batch, step


class BatchVersionFlow(FlowSpec):
    @batch(image="flowlib-runtime:old")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BatchVersionFlow()
