"""Search everything a run left behind for secret values, and set secrets up like an operator.

``Leftovers`` collects texts and bytes from every place a value could land: the artifact
bucket (every object version), the metadata table (every item), the Batch job definitions and
submitted jobs (every queue, every status), CloudWatch Logs (every stream), a local datastore
folder, and the run's own console output. ``find`` returns where each value was seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner

# A secret of each shape: JSON keys from Secrets Manager, plain values from both stores.
WAREHOUSE = {"DB_USER": "svc_warehouse_7Hq", "DB_PASSWORD": "pw-Zx81-very-secret-Kp2",
             "DB_PORT": 5432}
HUB_TOKEN = "hub_tok_3f9c1d7e5a2b"
DB_URL = "postgres://svc:Qm4-url-secret@db.internal:5432/wh"
SECRET_VALUES = ["svc_warehouse_7Hq", "pw-Zx81-very-secret-Kp2", HUB_TOKEN, DB_URL,
                 "Qm4-url-secret"]


def platform_secrets(args: list[str], stdin: str | None = None) -> Any:
    """``platform secrets ...`` in-process (the click command the CLI runs)."""
    from platform_cli.main import cli

    result = CliRunner().invoke(cli, ["secrets", *args], input=stdin, catch_exceptions=False)
    return result


def create_test_secrets(env: str, tmp_path: Path) -> None:
    """The three sources SecretsFlow reads, through ``platform secrets set``."""
    warehouse = tmp_path / "warehouse.json"
    warehouse.write_text(json.dumps(WAREHOUSE))
    for args, stdin in (
        (["set", env, "warehouse", "--from-file", str(warehouse)], None),
        (["set", env, "hub-token", "--value", "-", "--store", "ssm"], HUB_TOKEN + "\n"),
        (["set", env, "db-url", "--value", "-"], DB_URL),
    ):
        result = platform_secrets(args, stdin)
        assert result.exit_code == 0, result.output
    warehouse.unlink()


@dataclass
class Leftovers:
    places: dict[str, bytes] = field(default_factory=dict)

    def add(self, where: str, data: Any) -> None:
        if isinstance(data, str):
            data = data.encode()
        elif not isinstance(data, bytes):
            data = json.dumps(data, default=str).encode()
        self.places[where] = data

    def find(self, values: list[str]) -> list[tuple[str, str]]:
        return [(where, value) for where, data in self.places.items() for value in values
                if value.encode() in data]

    # -- collectors ----------------------------------------------------------------------
    def bucket(self, s3: Any, bucket: str, prefix: str) -> int:
        count = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket,
                                                                      Prefix=prefix):
            for version in page.get("Versions", []):
                body = s3.get_object(Bucket=bucket, Key=version["Key"],
                                     VersionId=version["VersionId"])["Body"].read()
                self.add(f"s3://{bucket}/{version['Key']}@{version['VersionId']}", body)
                count += 1
        return count

    def table(self, dynamodb: Any, table: str) -> int:
        items: list[Any] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items += page["Items"]
        self.add(f"dynamodb:{table}", items)
        return len(items)

    def batch(self, batch: Any, queue: str) -> int:
        self.add("batch:job-definitions",
                 batch.describe_job_definitions()["jobDefinitions"])
        ids = []
        for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED",
                       "FAILED"):
            ids += [j["jobId"] for j in batch.list_jobs(jobQueue=queue, jobStatus=status)[
                "jobSummaryList"]]
        if ids:
            self.add("batch:jobs", batch.describe_jobs(jobs=ids)["jobs"])
        return len(ids)

    def logs(self, logs: Any, group: str = "/aws/batch/job") -> int:
        count = 0
        for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
            events = logs.get_log_events(logGroupName=group,
                                         logStreamName=stream["logStreamName"])["events"]
            self.add(f"logs:{stream['logStreamName']}", "\n".join(e["message"] for e in events))
            count += 1
        return count

    def folder(self, root: Path) -> int:
        count = 0
        for path in root.rglob("*"):
            if path.is_file():
                self.add(str(path), path.read_bytes())
                count += 1
        return count


def add_secrets_profile(config_file: Path, name: str = "sectest") -> None:
    """Give the test's config a profile named after the secrets' environment (``platform
    secrets`` reads an environment's region and KMS key from its profile)."""
    data = json.loads(config_file.read_text())
    data["profiles"][name] = dict(next(iter(data["profiles"].values())))
    config_file.write_text(json.dumps(data, indent=2))


def put_test_secrets(stack: Any) -> None:
    """The same three sources as :func:`create_test_secrets`, written with boto3 (for tests
    whose config has no profile for `platform secrets`)."""
    sm, ssm = stack.client("secretsmanager"), stack.client("ssm")
    sm.create_secret(Name="flowlib/sectest/warehouse", SecretString=json.dumps(WAREHOUSE))
    sm.create_secret(Name="flowlib/sectest/db-url", SecretString=DB_URL)
    ssm.put_parameter(Name="/flowlib/sectest/hub-token", Value=HUB_TOKEN, Type="SecureString")


def delete_test_secrets(stack: Any) -> None:
    sm, ssm = stack.client("secretsmanager"), stack.client("ssm")
    for name in ("warehouse", "db-url"):
        sm.delete_secret(SecretId=f"flowlib/sectest/{name}", ForceDeleteWithoutRecovery=True)
    ssm.delete_parameter(Name="/flowlib/sectest/hub-token")
