"""@secrets on Kubernetes (kmock + the test controller): the pods read their secrets (moto's
Secrets Manager and Parameter Store) at task start; the Job manifests carry source names
only, and no value is stored or printed."""

from __future__ import annotations

import hashlib
import json

from flowlib import Flow
from tests.support.backends import FLOWS
from tests.support.secret_scan import (
    DB_URL,
    HUB_TOKEN,
    SECRET_VALUES,
    WAREHOUSE,
    Leftovers,
    delete_test_secrets,
    put_test_secrets,
)

END_SOURCES = "secrets:sources=[ssm:/flowlib/sectest/hub-token,flowlib/sectest/db-url]"


def _sha(*values: str) -> str:
    return hashlib.sha256("|".join(values).encode()).hexdigest()


def test_pods_read_secrets_and_manifests_hold_names_only(k8s, kube, moto_stack, tmp_path):
    put_test_secrets(moto_stack)
    try:
        # The moto endpoint and credentials stand in for the pod identity of EKS.
        proc = k8s.run(FLOWS / "secrets" / "secrets_flow.py", "run", "--with", END_SOURCES,
                       env=moto_stack.env)
    finally:
        delete_test_secrets(moto_stack)
    run = Flow("SecretsFlow").latest_run
    start, end = run["start"].task, run["end"].task
    assert start.data.start_digest == _sha(WAREHOUSE["DB_USER"], WAREHOUSE["DB_PASSWORD"])
    assert end.data.end_digest == _sha(HUB_TOKEN, DB_URL)
    assert "connecting with password ****" in start.stdout and "token=****" in end.stderr
    manifests = [j for j in kube.jobs_seen if j["metadata"]["labels"]["flowlib/flow"] ==
                 "SecretsFlow"]
    assert len(manifests) == 2
    end_job = next(j for j in manifests if j["metadata"]["labels"]["flowlib/step"] == "end")
    command = end_job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "ssm:/flowlib/sectest/hub-token" in command
    found = Leftovers()
    found.add("kubernetes:jobs", json.dumps(manifests))
    found.folder(tmp_path)
    found.add("console", proc.stdout + proc.stderr)
    assert found.find(SECRET_VALUES) == []
    assert found.find([start.data.start_digest])  # the search does see stored strings
