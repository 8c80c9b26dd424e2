"""Started when a production run of TriggeredFlow succeeds (@trigger_on_finish)."""

from dataclasses import asdict

from flowlib import FlowSpec, current, step, trigger_on_finish


@trigger_on_finish(flow="TriggeredFlow")
class AfterFlow(FlowSpec):
    @step
    def start(self):
        self.started_by = asdict(current.trigger) if current.trigger else None
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    AfterFlow()
