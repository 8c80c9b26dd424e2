"""Started when an object is created under s3://$LANDING_BUCKET/incoming/ (@trigger(s3=...)):
the object's key arrives in the parameter ``key`` (the default mapping)."""

import os
from dataclasses import asdict

from flowlib import FlowSpec, Parameter, current, step, trigger


@trigger(s3=f"s3://{os.environ.get('LANDING_BUCKET', 'flowlib-landing')}/incoming/")
class S3Flow(FlowSpec):
    key = Parameter("key", default="none")

    @step
    def start(self):
        self.started_by = asdict(current.trigger) if current.trigger else None
        self.seen = self.key
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    S3Flow()
