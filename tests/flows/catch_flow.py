"""@catch: a step that always fails; the flow goes on with the exception stored."""

from flowlib import FlowSpec, catch, retry, step


class CatchFlow(FlowSpec):
    @step
    def start(self):
        self.before = "kept"
        self.next(self.broken)

    @catch(var="problem")
    @retry(times=1, minutes_between_retries=0)
    @step
    def broken(self):
        if self.before == "kept":
            raise ValueError("this step never works")
        self.next(self.end)

    @step
    def end(self):
        self.outcome = f"recovered from {self.problem.type}: {self.problem.exception}"


if __name__ == "__main__":
    CatchFlow()
