"""Cost of runs from recorded attempts: known durations, instance types and resources."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from flowlib import Run, namespace
from flowlib.cli.flowlib_command import main
from flowlib.cost import attempt_resources
from flowlib.cost.prices import DEFAULT
from flowlib.metadata.records import FAILED, SUCCEEDED, TaskRecord
from flowlib.stores import open_stores

FLOW = "PricedFlow"
FLOWS = Path(__file__).parent / "flows"


@pytest.fixture(autouse=True)
def built_in_prices(tmp_path, monkeypatch):
    """The built-in table, whatever ``flowlib cost --refresh-prices`` stored on this machine."""
    from flowlib.cost import prices

    monkeypatch.setattr(prices, "stored_table_path", lambda: tmp_path / "no-price-table.json")
    monkeypatch.delenv(prices.PRICE_TABLE_ENV, raising=False)
    prices.invalidate()


def record_attempts(stores) -> str:
    """start: local; train: attempt 0 failed and attempt 1 succeeded on an m5.xlarge (Batch);
    end: Batch, instance type unknown."""
    meta = stores.metadata
    run = meta.create_run(FLOW, "tester", ["user:tester"], []).run_id
    plan = [
        ("start", 0, SUCCEEDED, {"cpu": 1, "memory": 4096, "gpu": 0, "compute": "local"}),
        ("train", 0, FAILED, {"cpu": 2, "memory": 8192, "gpu": 0, "compute": "batch",
                              "instance_type": "m5.xlarge"}),
        ("train", 1, SUCCEEDED, {"cpu": 2, "memory": 8192, "gpu": 0, "compute": "batch",
                                 "instance_type": "m5.xlarge"}),
        ("end", 0, SUCCEEDED, {"cpu": 1, "memory": 2048, "gpu": 0, "compute": "batch"}),
    ]
    meta.create_tasks([TaskRecord(FLOW, run, s, "1", "pending", 0.0)
                       for s in ("start", "train", "end")])
    artifacts = stores.artifacts(FLOW)
    for step, attempt, status, res in plan:
        meta.start_attempt(FLOW, run, step, "1", attempt)
        meta.set_attempt_resources(FLOW, run, step, "1", attempt, res)
        refs = {"x": artifacts.save("x", f"{step} output", "")} if status == SUCCEEDED else {}
        meta.finish_attempt(FLOW, run, step, "1", attempt, status, refs,
                            {"next": []} if status == SUCCEEDED else None, None)
    meta.update_run(FLOW, run, SUCCEEDED, None)
    return run


def test_cost_from_recorded_attempts(backend):
    namespace(None)
    stores = open_stores()
    run_id = record_attempts(stores)
    cost = Run(f"{FLOW}/{run_id}").cost
    durations = {(a.step, a.attempt): a.finished - a.started
                 for t in stores.metadata.list_tasks(FLOW, run_id)
                 for a in stores.metadata.list_attempts(FLOW, run_id, t.step, t.task_id)}
    by = {(a.step, a.attempt): a for a in cost.attempts}
    assert set(by) == set(durations)  # the failed attempt is counted too
    for key, seconds in durations.items():
        assert by[key].seconds == pytest.approx(seconds)
    train = by[("train", 0)]
    assert train.vcpu_seconds == pytest.approx(2 * durations[("train", 0)])
    assert train.gib_seconds == pytest.approx(8 * durations[("train", 0)])
    # Half an m5.xlarge (2 of 4 vCPUs, 8 of 16 GiB) at its on-demand price.
    assert train.dollars == pytest.approx(0.192 * 0.5 * durations[("train", 0)] / 3600)
    assert train.basis == "share of m5.xlarge on demand"
    end = by[("end", 0)]
    assert end.dollars == pytest.approx(
        (DEFAULT["vcpu_hour"] + 2 * DEFAULT["gib_hour"]) * durations[("end", 0)] / 3600)
    assert end.basis.startswith("Fargate")
    assert by[("start", 0)].dollars == 0 and by[("start", 0)].basis.startswith("local")
    assert cost.compute_dollars == pytest.approx(sum(a.dollars for a in cost.attempts))
    assert cost.by_step()["train"]["attempts"] == 2
    assert cost.artifact_bytes_written == cost.held_alone_bytes > 0
    explained = cost.explain()
    assert any("Fargate" in e for e in explained["estimates"])
    assert any("local" in e for e in explained["excludes"])
    if backend.name == "aws":
        assert cost.request_dollars > 0 and cost.storage_dollars_per_month > 0

    result = CliRunner().invoke(main, ["cost", f"{FLOW}/{run_id}", "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dollars"] == pytest.approx(cost.dollars)
    assert "includes" in data and "estimates" in data


def test_a_flow_run_records_its_resources(backend):
    namespace(None)
    backend.run(FLOWS / "cost_flow.py", "run")
    from flowlib import Flow

    run = Flow("CostFlow").latest_run
    cost = run.cost
    start = next(a for a in cost.attempts if a.step == "start")
    assert (start.cpu, start.memory_gib, start.compute) == (2.0, 1.0, "local")
    assert start.vcpu_seconds == pytest.approx(2 * start.seconds)
    assert {a.step for a in cost.attempts} == {"start", "end"}  # not the runtime's _parameters
    end = next(a for a in cost.attempts if a.step == "end")
    assert end.cpu == 1.0 and end.memory_gib == 4.0  # the defaults
    assert "CostFlow" in str(cost)


def deco(name: str, **attributes):
    return SimpleNamespace(name=name, attributes=attributes)


def test_attempt_resources_from_decorators_and_environment():
    decorators = [deco("resources", cpu=2, memory=1024, gpu=0),
                  deco("batch", cpu=4, memory=512, gpu=1), deco("retry", times=2)]
    res = attempt_resources(decorators, {"AWS_BATCH_JOB_ID": "j-1",
                                         "FLOWLIB_INSTANCE_TYPE": "c5.xlarge"})
    assert res == {"cpu": 4.0, "memory": 1024, "gpu": 1, "compute": "batch",
                   "instance_type": "c5.xlarge"}
    assert attempt_resources([], {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})["compute"] == (
        "kubernetes")
    assert attempt_resources([], {}) == {"cpu": 1.0, "memory": 4096, "gpu": 0,
                                         "compute": "local"}
    assert attempt_resources([], {"FLOWLIB_CODE_PACKAGE": "ab" * 20})["code_package"] == (
        "ab" * 20)
