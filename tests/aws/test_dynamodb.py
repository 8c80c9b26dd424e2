"""The DynamoDB metadata store against the moto server, beyond the contract every metadata store
passes (tests/contracts/test_metadata.py): the table contract shared with Terraform, request
counts, conditional writes under concurrency, pagination, large artifact maps, failed writes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from flowlib.datastore.artifacts import ArtifactRef
from flowlib.metadata import dynamodb as ddbmod
from flowlib.metadata.records import RUNNING, SUCCEEDED, TaskRecord

REPO = Path(__file__).resolve().parents[2]


class Counter:
    """Counts HTTP requests per operation (a botocore event hook), as the bench does."""

    def __init__(self, meta) -> None:
        self.ops: list[str] = []
        meta.aws.forget_clients()
        meta.aws.event_hooks.append(("before-send.dynamodb", self._count))

    def _count(self, **kwargs):
        self.ops.append(kwargs["event_name"].split(".")[-1])

    def reset(self) -> int:
        n = len(self.ops)
        self.ops.clear()
        return n


def _runs(meta, flow, n, tags=(), user="alice"):
    return [meta.create_run(flow, user, [f"user:{user}"], list(tags)) for _ in range(n)]


def test_table_matches_the_contract_shared_with_terraform(aws):
    description = aws.stack.client("dynamodb").describe_table(TableName=aws.table)["Table"]
    assert ddbmod.check_table(description) == []
    # The Terraform metadata module reads the very same file.
    module_copy = REPO / "terraform/modules/metadata/table_schema.json"
    assert json.loads(module_copy.read_text()) == ddbmod.table_schema()
    assert module_copy.resolve() == (REPO / "flowlib/metadata/table_schema.json").resolve()


def test_check_table_reports_drift():
    kwargs = ddbmod.create_table_kwargs("t")
    description = {
        "AttributeDefinitions": kwargs["AttributeDefinitions"],
        "KeySchema": kwargs["KeySchema"],
        "GlobalSecondaryIndexes": [],
    }
    assert ddbmod.check_table(description) == ["index gsi1 is missing"]


def test_run_ids_are_unique_under_concurrent_writers(stores):
    meta = stores.metadata
    ids: list[str] = []
    lock = threading.Lock()

    def writer():
        for _ in range(8):
            run = meta.create_run("F", "alice", ["user:alice"], [])
            with lock:
                ids.append(run.run_id)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(int, ids)) == list(range(1, 49))
    assert [r.run_id for r in meta.list_runs("F", limit=3)] == ["48", "47", "46"]


def test_a_counter_behind_the_runs_never_overwrites_a_run(aws, stores):
    meta = stores.metadata
    _runs(meta, "F", 3)
    aws.stack.client("dynamodb").delete_item(
        TableName=aws.table, Key={"pk": {"S": "FLOWS"}, "sk": {"S": "FLOW#F"}}
    )
    run = meta.create_run("F", "bob", ["user:bob"], [])
    assert run.run_id == "4"
    assert meta.get_run("F", "1").user == "alice"


def test_latest_run_is_a_few_requests_whatever_the_number_of_runs(stores):
    meta = stores.metadata
    counter = Counter(meta)
    costs = {}
    for total in (5, 120):
        flow = f"Many{total}"
        _runs(meta, flow, total)
        counter.reset()
        assert next(meta.list_runs(flow, limit=1)).run_id == str(total)
        plain = counter.reset()
        assert next(meta.list_runs(flow, tags=["user:alice"])).run_id == str(total)
        by_tag = counter.reset()
        last_100 = list(meta.list_runs(flow, limit=100))
        assert len(last_100) == min(total, 100)
        costs[total] = (plain, by_tag, counter.reset())
    assert costs[5][:2] == costs[120][:2] == (1, 2)
    assert costs[120][2] <= 3  # 10 + 50 + 40: the page sizes grow
    assert "Scan" not in counter.ops


def test_runs_by_several_tags_paginate_newest_first(stores):
    meta = stores.metadata
    for i in range(1, 41):
        tags = ["even"] if i % 2 == 0 else []
        if i % 3 == 0:
            tags.append("third")
        meta.create_run("F", "alice", ["user:alice"], tags)
    both = [int(r.run_id) for r in meta.list_runs("F", tags=["even", "third"])]
    assert both == [36, 30, 24, 18, 12, 6]
    assert [int(r.run_id) for r in meta.list_runs("F", tags=["third"], limit=2)] == [39, 36]
    assert len(list(meta.list_runs("F", tags=["user:alice"]))) == 40
    assert list(meta.list_runs("F", tags=["nope"])) == []
    assert meta.list_flows() == ["F"]


def _task(meta, run_id, step="start", task_id="1"):
    meta.create_tasks([TaskRecord("F", run_id, step, task_id, "pending", time.time())])
    meta.start_attempt("F", run_id, step, task_id, 0)


def test_large_artifact_maps_are_split_across_items(stores):
    meta = stores.metadata
    run = meta.create_run("F", "alice", [], [])
    _task(meta, run.run_id)
    refs = {f"artifact_{i:05d}_{'x' * 100}": ArtifactRef(f"{i:040x}", i, "builtins.int")
            for i in range(5000)}  # ~1 MB of references: 4 items
    meta.finish_attempt("F", run.run_id, "start", "1", 0, SUCCEEDED, refs, {"next": ["end"]},
                        None)
    assert meta.get_artifacts("F", run.run_id, "start", "1") == refs
    task = meta.get_task("F", run.run_id, "start", "1")
    assert task.status == SUCCEEDED and task.transition == {"next": ["end"]}


def test_a_failed_outcome_write_leaves_the_task_not_done(stores):
    meta = stores.metadata
    run = meta.create_run("F", "alice", [], [])
    _task(meta, run.run_id)
    meta.aws.forget_clients()

    def fail(**kwargs):
        raise ConnectionError("connection reset")

    meta.aws.event_hooks.append(("before-send.dynamodb.TransactWriteItems", fail))
    refs = {"x": ArtifactRef("ab" * 20, 3, "int")}
    with pytest.raises(Exception, match="connection reset"):
        meta.finish_attempt("F", run.run_id, "start", "1", 0, SUCCEEDED, refs, {"next": []}, None)
    meta.aws.event_hooks.clear()
    meta.aws.forget_clients()
    assert meta.get_task("F", run.run_id, "start", "1").status == RUNNING
    assert meta.list_attempts("F", run.run_id, "start", "1")[0].status == RUNNING
    assert meta.get_artifacts("F", run.run_id, "start", "1") == {}


def test_a_thousand_way_foreach_registers_in_batches(stores):
    meta = stores.metadata
    run = meta.create_run("F", "alice", [], [])
    counter = Counter(meta)
    now = time.time()
    meta.create_tasks([TaskRecord("F", run.run_id, "train", str(i), "pending", now + i * 1e-6,
                                  [{"index": i}], ["F/1/start/1"]) for i in range(1000)])
    # One PutItem each, never BatchWriteItem (IAM would have to allow its deletes).
    assert counter.ops.count("PutItem") == 1000
    assert "BatchWriteItem" not in counter.ops
    counter.reset()
    tasks = meta.list_tasks("F", run.run_id, "train")
    assert [t.task_id for t in tasks] == [str(i) for i in range(1000)]
    assert tasks[5].foreach_stack == [{"index": 5}]
    assert len(counter.ops) <= 3  # paginated (1 MB pages)
