"""@secrets on AWS Batch (moto + the Docker Engine API test server, see conftest): secrets set
with `platform secrets set` are read inside the job's own process at task start; afterwards no
value is anywhere: artifacts, metadata table, job definitions, submitted jobs, CloudWatch
Logs, stored logs, the console."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flowlib import Run
from tests.remote.batch.conftest import QUEUE, run_flow
from tests.support.backends import FLOWS
from tests.support.secret_scan import (
    DB_URL,
    HUB_TOKEN,
    SECRET_VALUES,
    WAREHOUSE,
    Leftovers,
    add_secrets_profile,
    create_test_secrets,
)

END_SOURCES = "secrets:sources=[ssm:/flowlib/sectest/hub-token,flowlib/sectest/db-url]"


def _sha(*values: str) -> str:
    return hashlib.sha256("|".join(values).encode()).hexdigest()


def test_batch_tasks_read_secrets_and_no_value_is_stored(batch_backend, batch_stack, tmp_path):
    add_secrets_profile(Path(batch_backend.env["FLOWLIB_CONFIG"]))
    create_test_secrets("sectest", tmp_path)
    stack = batch_stack.stack
    try:
        proc = run_flow(batch_backend, FLOWS / "secrets" / "secrets_flow.py", "run",
                        "--with", "batch", "--with", END_SOURCES)
        run = Run(f"SecretsFlow/{proc.stdout.split('SecretsFlow/')[1].split(' ')[0]}")
        start, end = run["start"].task, run["end"].task
        assert start.data.start_digest == _sha(WAREHOUSE["DB_USER"], WAREHOUSE["DB_PASSWORD"])
        assert end.data.end_digest == _sha(HUB_TOKEN, DB_URL)
        assert start.data.plain == ("https://hub.example.com", "4")
        assert not start.data.start_sees_token and not end.data.end_sees_password
        assert "connecting with password ****" in start.stdout  # stored log, from CloudWatch
        assert "token=****" in end.stdout  # CloudWatch merges stderr into one stream
        assert "connecting with password ****" in proc.stdout  # streamed

        client = batch_stack.client("batch")
        found = Leftovers()
        assert found.batch(client, QUEUE) >= 2
        jobs = json.loads(found.places["batch:jobs"])
        mine = [j for j in jobs if j["tags"].get("flowlib:flow") == "SecretsFlow"
                and j["tags"].get("flowlib:run") == run.id]
        assert len(mine) == 2
        # Only source names travel with the job: in its command, never in its environment.
        end_job = next(j for j in mine if j["tags"]["flowlib:step"] == "end")
        assert "ssm:/flowlib/sectest/hub-token" in end_job["container"]["command"]
        assert found.logs(batch_stack.client("logs")) >= 2
        assert found.bucket(stack.client("s3"), stack.bucket, "") > 5
        assert found.table(stack.client("dynamodb"), batch_backend.table) > 5
        found.add("console", proc.stdout + proc.stderr)
        assert found.find(SECRET_VALUES) == []
        assert found.find([start.data.start_digest])  # the search does see stored strings
    finally:
        sm, ssm = stack.client("secretsmanager"), stack.client("ssm")
        for name in ("warehouse", "db-url"):
            sm.delete_secret(SecretId=f"flowlib/sectest/{name}", ForceDeleteWithoutRecovery=True)
        ssm.delete_parameter(Name="/flowlib/sectest/hub-token")
