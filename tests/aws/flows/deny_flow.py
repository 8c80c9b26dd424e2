"""The start step makes the bucket refuse new objects under this flow's data, then stores one.

Stands in for a role that lacks s3:PutObject: the attempt must fail with a clear message and
the task must not be marked done.
"""

import json
import os

import boto3

from flowlib import FlowSpec, step


class DenyFlow(FlowSpec):
    @step
    def start(self):
        bucket, prefix = os.environ["DENY_BUCKET"], os.environ["DENY_PREFIX"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyPut", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}/DenyFlow/data/*",
            }],
        }
        boto3.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        self.new_value = os.urandom(64)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DenyFlow()
