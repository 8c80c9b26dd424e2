"""Both stores are checked before a run writes anything, whatever their mix, and on resume too.

Before: the S3 bucket check ran only from DynamoDB's ``create_run`` (skipped when metadata was
SQLite) and a resume checked nothing before writing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from tests.aws.test_errors import _one_line_error, _run

MISSING = "no-such-flowlib-bucket"
# No parameters: nothing is stored before the run is created, so only the preflight can stop it.
NO_PARAMETERS = """
from flowlib import FlowSpec, step


class BareFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BareFlow()
"""


def test_s3_with_sqlite_metadata_checks_the_bucket_before_writing(aws):
    # Artifacts on S3, metadata in the local SQLite file: a mix the profile schema allows.
    flow = aws.workdir / "bare_flow.py"
    flow.write_text(NO_PARAMETERS)
    proc = aws.run(flow, "run", expect=None, env={
        "FLOWLIB_S3_BUCKET": MISSING, "FLOWLIB_METADATA": "local",
        "FLOWLIB_DYNAMODB_TABLE": ""})
    err = _one_line_error(proc)
    assert f"S3 bucket '{MISSING}' does not exist" in err
    db = aws.workdir / ".flowlib" / "metadata.db"
    runs = sqlite3.connect(db).execute("SELECT COUNT(*) FROM runs").fetchone()[0] if (
        db.exists()) else 0
    assert runs == 0


def test_resume_checks_both_stores_before_writing(aws):
    assert _run(aws, {}).returncode == 0
    table = aws.stack.client("dynamodb")

    def run_items() -> int:
        return sum(1 for i in table.scan(TableName=aws.table)["Items"] if i["sk"]["S"].startswith(
            "RUN#"))

    assert run_items() == 1
    proc = _run(aws, {"FLOWLIB_S3_BUCKET": MISSING}, "resume", "--origin-run-id", "1")
    assert f"S3 bucket '{MISSING}' does not exist" in _one_line_error(proc)
    proc = _run(aws, {"FLOWLIB_DYNAMODB_TABLE": "no-such-flowlib-table"},
                "resume", "--origin-run-id", "1")
    assert "DynamoDB table 'no-such-flowlib-table' does not exist" in _one_line_error(proc)
    assert run_items() == 1
    assert _run(aws, {}, "resume", "--origin-run-id", "1").returncode == 0
    assert run_items() == 2


def _validate(aws, **env_changes: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **aws.env, **env_changes}
    return subprocess.run([sys.executable, "-m", "flowlib.cli.flowlib_command", "config",
                           "validate", "--check"], capture_output=True, text=True, env=env,
                          cwd=aws.workdir, timeout=120)


def test_config_validate_check_runs_the_same_preflight(aws):
    ok = _validate(aws)
    assert ok.returncode == 0 and "(AWS reached)" in ok.stdout, ok.stderr
    assert f"S3 bucket '{MISSING}' does not exist" in _one_line_error(
        _validate(aws, FLOWLIB_S3_BUCKET=MISSING))
    # A table that exists but was not made from flowlib's schema (no gsi1 index).
    ddb = aws.stack.client("dynamodb")
    name = f"not-flowlib-{aws.table}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}])
    try:
        err = _one_line_error(_validate(aws, FLOWLIB_DYNAMODB_TABLE=name))
    finally:
        aws.stack.delete_table(name)
    assert f"DynamoDB table '{name}' does not match flowlib's table schema" in err
    assert "gsi1" in err
