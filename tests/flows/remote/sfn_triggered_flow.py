"""Started by events (@trigger): a plain event, and one whose payload fields map to parameters."""

from dataclasses import asdict

from flowlib import FlowSpec, Parameter, current, step, trigger


@trigger(events=["data_ready", {"name": "backfill", "parameters": {"day": "date", "count": "n"}}])
class TriggeredFlow(FlowSpec):
    day = Parameter("day", default="today")
    count = Parameter("count", default=1)

    @step
    def start(self):
        self.started_by = asdict(current.trigger) if current.trigger else None
        self.total = self.count * 10
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TriggeredFlow()
