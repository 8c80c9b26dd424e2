"""Parameters of every type, IncludeFile, current, artifacts passed down a line of steps."""

import sys

from flowlib import FlowSpec, IncludeFile, JSONType, Parameter, current, step


class LinearFlow(FlowSpec):
    name_ = Parameter("who", default="world", help="Who to greet.")
    count = Parameter("count", default=3, help="How many items.")
    ratio = Parameter("ratio", default=0.5)
    flag = Parameter("flag", default=False, type=bool)
    config = Parameter("config", default='{"depth": 2}', type=JSONType)
    notes = IncludeFile("notes", required=False, help="A text file to include.")

    @step
    def start(self):
        self.items = list(range(self.count))
        self.seen = {
            "flow": current.flow_name,
            "run": current.run_id,
            "step": current.step_name,
            "task": current.task_id,
            "pathspec": current.pathspec,
            "retry": current.retry_count,
            "user": current.username,
        }
        print(f"hello {self.name_}")
        print("to stderr", file=sys.stderr)
        self.next(self.middle)

    @step
    def middle(self):
        self.items.append(99)  # in-place change of a parent's artifact is stored
        self.total = sum(self.items) * self.ratio
        self.next(self.end)

    @step
    def end(self):
        self.summary = {
            "who": self.name_,
            "count": self.count,
            "ratio": self.ratio,
            "flag": self.flag,
            "config": self.config,
            "notes": self.notes,
            "total": self.total,
            "items": self.items,
        }


if __name__ == "__main__":
    LinearFlow()
