"""Running steps on AWS Batch.

``launcher`` (the scheduler's launcher: submission, status polling, workers), ``jobs`` (job
definitions, job requests, the meaning of a failure), ``logs`` (CloudWatch log streaming),
``entry`` (the container entry of an array job's child) and ``cli`` (``batch list`` / ``kill``).
boto3 is imported only by these modules, which the router imports only when a run uses Batch.
"""
