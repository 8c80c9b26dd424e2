"""A scheduled project flow for the Step Functions tests (two steps, one parameter)."""

from flowlib import FlowSpec, Parameter, project, schedule, step


@schedule(cron="0 2 * * 1-5", timezone="Europe/Berlin")
@project(name="churn")
class ScheduledFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.doubled = self.alpha * 2
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ScheduledFlow()
