"""Cost on Batch (moto + the fake Docker engine): jobs carry the cost-allocation tags, and the
attempts record what they ran on, including the code package gc must keep."""

from __future__ import annotations

from pathlib import Path

from flowlib import Flow, namespace
from flowlib.stores import open_stores
from tests.remote.batch.conftest import QUEUE, run_flow

COST_FLOW = Path(__file__).resolve().parents[2] / "retention" / "flows" / "cost_flow.py"


def test_batch_jobs_tagged_and_attempts_priced(batch_backend, batch_stack):
    from flowlib.remote.batch.cli import find_jobs

    run_flow(batch_backend, COST_FLOW, "run", "--with", "batch", "--tag", "project:churn")
    namespace(None)
    run = Flow("CostFlow").latest_run
    client = batch_stack.client("batch")
    jobs = find_jobs(client, [QUEUE], "CostFlow", run.id)
    described = client.describe_jobs(jobs=[j["jobId"] for j in jobs])["jobs"]
    for job in described:
        tags = job["tags"]
        assert tags["flowlib:project"] == "churn" and tags["flowlib:flow"] == "CostFlow"
        assert tags["flowlib:run"] == run.id and tags["flowlib:user"] and tags["flowlib:step"]
    cost = run.cost
    start = next(a for a in cost.attempts if a.step == "start")
    assert (start.compute, start.cpu, start.memory_gib) == ("batch", 2.0, 1.0)
    assert start.dollars > 0 and start.basis.startswith("Fargate")  # no instance type on moto
    stores = open_stores()
    resources = stores.metadata.run_attempt_resources("CostFlow", run.id)
    package = resources[("start", start.task_id, 0)]["code_package"]
    assert package in stores.metadata.run_blob_keys("CostFlow", run.id)
    assert stores.artifacts("CostFlow").get_bytes(package)  # the package blob itself
