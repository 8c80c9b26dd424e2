"""Mark-and-sweep gc on the local store and on S3 + DynamoDB (moto): what it keeps, what it
frees, and that concurrent writers, interruptions and a second collector lose nothing."""

from __future__ import annotations

import time

import pytest

import flowlib.retention.gc as gc_module
from flowlib import Flow, Run, namespace
from flowlib.exceptions import FlowlibError, NotFoundError
from flowlib.metadata.records import FAILED, REMOVED, RUNNING, SUCCEEDED, TaskRecord
from flowlib.retention import RetentionPolicy, collect, plan_gc
from flowlib.stores import open_stores
from tests.retention.runs import record_run

FLOW = "RetainFlow"
HOUR = 3600.0
SHARED = list(range(1000))  # one blob every run references (deduplicated)


def later() -> float:
    """A clock past the grace period of every blob written so far (1 h grace below)."""
    return time.time() + 2 * HOUR


def blob_keys(stores, flow: str = FLOW) -> set[str]:
    return {b.key for b in stores.make_blobstore(flow).list_blobs()}


def seven_runs(stores, flow: str = FLOW) -> dict[str, str]:
    """1 ok, 2 ok + pinned, 3 ok, 4 ok, 5 failed, 6 failed, 7 running; all share a blob."""
    ids = {}
    for n in range(1, 8):
        status = FAILED if n in (5, 6) else RUNNING if n == 7 else "succeeded"
        ids[n] = record_run(
            stores, flow, {"shared": SHARED, "own": f"value of run {n}"}, status=status,
            tags=["keep"] if n == 2 else [], stdout=f"log of run {n}\n",
        )
    return ids


def expect_state(stores, ids: dict, kept: set[int], removed: set[int], flow: str = FLOW):
    for n in kept:
        run = Run(f"{flow}/{ids[n]}")
        task = run["end"].task
        assert task.data.own == f"value of run {n}"
        assert task.data.shared == SHARED
        assert task.stdout == f"log of run {n}\n"
    for n in removed:
        with pytest.raises(NotFoundError, match=f"run {ids[n]} (was|is being) removed by "
                           "retention on 20"):
            Run(f"{flow}/{ids[n]}")
    listed = {r.id for r in Flow(flow).runs()}
    assert listed == {ids[n] for n in kept}


POLICY = RetentionPolicy(keep_last=2, grace_hours=1)
KEPT, REMOVED_RUNS = {2, 4, 6, 7}, {1, 3, 5}  # last 2: 7, 6; pinned: 2; latest ok: 4


def test_gc_keeps_exactly_the_kept_runs(backend):
    namespace(None)
    stores = open_stores()
    ids = seven_runs(stores)
    before = blob_keys(stores)
    # 1 shared + 7 own values + 7 logs
    assert len(before) == 15

    dry = plan_gc(stores, POLICY, now=later())
    assert sorted(r.run_id for r in dry.flows[0].remove) == sorted(ids[n] for n in REMOVED_RUNS)
    assert len(dry.flows[0].candidates) == 6  # own value + log of runs 1, 3, 5
    assert blob_keys(stores) == before  # the plan (dry run) changed nothing
    expect_state(stores, ids, set(range(1, 8)), set())

    report = collect(stores, dry)
    assert report.blobs_deleted == 6 and report.bytes_freed == dry.flows[0].bytes_freed
    assert len(blob_keys(stores)) == 9
    expect_state(stores, ids, KEPT, REMOVED_RUNS)
    for n in REMOVED_RUNS:
        record = stores.metadata.get_run(FLOW, ids[n])
        assert record.retention == REMOVED
        assert stores.metadata.list_tasks(FLOW, ids[n]) == []
        assert stores.metadata.run_blob_keys(FLOW, ids[n]) == set()

    again = plan_gc(stores, POLICY, now=later())  # nothing left to do
    assert again.flows[0].remove == [] and again.flows[0].candidates == []


def test_writer_between_mark_and_sweep_loses_nothing(backend):
    namespace(None)
    stores = open_stores()
    old = record_run(stores, FLOW, {"x": "reused later"}, stdout="old\n")
    record_run(stores, FLOW, {"x": "newest"})
    plan = plan_gc(stores, RetentionPolicy(keep_last=1, grace_hours=1), now=later())
    assert [r.run_id for r in plan.flows[0].remove] == [old]
    written = {}

    def writer(point: str, flow: str) -> None:
        if point == "after_mark":
            # A new run deduplicates against the doomed run's blob and stores a new one.
            written["id"] = record_run(stores, FLOW, {"x": "reused later", "y": "fresh"},
                                       status=RUNNING, finish_run=False)

    report = collect(stores, plan, hook=writer)
    assert report.blobs_spared == 1  # the deduplicated blob
    task = Run(f"{FLOW}/{written['id']}")["end"].task
    assert (task.data.x, task.data.y) == ("reused later", "fresh")
    with pytest.raises(NotFoundError, match="removed by retention"):
        Run(f"{FLOW}/{old}")


def _start_writer(stores, value):
    """A new run whose task has stored (deduplicated) its artifact but not recorded it yet."""
    meta = stores.metadata
    run_id = meta.create_run(FLOW, "tester", ["user:tester"], []).run_id
    meta.create_tasks([TaskRecord(FLOW, run_id, "end", "1", "pending", time.time())])
    meta.start_attempt(FLOW, run_id, "end", "1", 0)
    refs = {"x": stores.artifacts(FLOW).save("x", value, f"{FLOW}/{run_id}/end/1")}
    return run_id, refs


def _finish_writer(stores, run_id, refs):
    meta = stores.metadata
    meta.finish_attempt(FLOW, run_id, "end", "1", 0, SUCCEEDED, refs, {"next": []}, None)
    meta.update_run(FLOW, run_id, SUCCEEDED, time.time())


@pytest.mark.parametrize(("point", "refresh"), [
    ("before_delete_batch", True), ("after_sweep_batch", True),
    ("before_delete_batch", False),  # the control: without the refresh the blob is lost
], ids=["refresh-before-delete", "refresh-after-delete", "no-refresh-before-delete"])
def test_dedup_against_an_old_blob_during_the_sweep(backend, point, refresh):
    """A task deduplicates against an old blob only a removed run references, after the
    sweep's last re-read of running runs (``before_delete_batch``) or after the delete
    (``after_sweep_batch``), and records the reference once gc is done. With the refresh
    (``BlobStore.refresh_after``) the blob survives either way; without it, the first
    interleaving loses it: the window the refresh closes."""
    namespace(None)
    stores = open_stores()
    value = "old value, reused later"
    old = record_run(stores, FLOW, {"x": value})
    record_run(stores, FLOW, {"x": "newest"})
    plan = plan_gc(stores, RetentionPolicy(keep_last=1, grace_hours=1), now=later())
    assert [r.run_id for r in plan.flows[0].remove] == [old]
    # gc's clock is two hours ahead: to the writer too, every stored blob is then older than
    # half the grace period (refresh_after); None turns the refresh off.
    stores.artifacts(FLOW).blobs.refresh_after = 0.0 if refresh else None
    writer = {}

    def interleave(at: str, flow: str) -> None:
        if at == point:
            writer["run"] = _start_writer(stores, value)

    report = collect(stores, plan, hook=interleave)
    assert report.blobs_spared == 0  # the writer's reference was not recorded in time
    _finish_writer(stores, *writer["run"])
    task = Run(f"{FLOW}/{writer['run'][0]}")["end"].task
    if refresh:
        assert task.data.x == value
    else:
        with pytest.raises(NotFoundError, match="missing from the datastore"):
            task.data.x  # noqa: B018


def test_blobs_within_the_grace_period_are_kept(backend):
    namespace(None)
    stores = open_stores()
    record_run(stores, FLOW, {"x": 1})
    doomed = record_run(stores, FLOW, {"x": 2})
    record_run(stores, FLOW, {"x": 3})
    # A task in flight stored a blob no run references yet.
    in_flight = stores.artifacts(FLOW).put_bytes(b"stored a moment ago")
    plan = plan_gc(stores, RetentionPolicy(keep_last=1, grace_hours=1))  # real clock
    assert doomed in [r.run_id for r in plan.flows[0].remove]
    assert plan.flows[0].candidates == [] and plan.flows[0].young_unreferenced >= 2
    collect(stores, plan)
    assert in_flight in blob_keys(stores)
    assert stores.artifacts(FLOW).get_bytes(in_flight) == b"stored a moment ago"


class Killed(Exception):
    pass


@pytest.mark.parametrize("point", ["after_mark", "after_sweep_batch", "after_finalize_run"])
def test_interrupted_gc_is_consistent_and_can_be_rerun(backend, monkeypatch, point):
    namespace(None)
    monkeypatch.setattr(gc_module, "SWEEP_BATCH", 2)
    stores = open_stores()
    ids = seven_runs(stores)

    def kill(at: str, flow: str) -> None:
        if at == point:
            raise Killed(at)

    with pytest.raises(Killed):
        collect(stores, plan_gc(stores, POLICY, now=later()), hook=kill)
    # Consistent: kept runs whole; every run of the removal set either whole or refused.
    for n in KEPT:
        assert Run(f"{FLOW}/{ids[n]}")["end"].task.data.own == f"value of run {n}"
    for n in REMOVED_RUNS:
        with pytest.raises(NotFoundError, match="removed by retention"):
            Run(f"{FLOW}/{ids[n]}")
    # A later gc, even with a policy keeping everything, finishes the interrupted removal.
    collect(stores, plan_gc(stores, RetentionPolicy(keep_last=100, grace_hours=1),
                            now=later()))
    expect_state(stores, ids, KEPT, REMOVED_RUNS)
    assert len(blob_keys(stores)) == 9


def test_two_collectors_at_once(backend, monkeypatch):
    namespace(None)
    monkeypatch.setattr(gc_module, "SWEEP_BATCH", 2)
    stores = open_stores()
    ids = seven_runs(stores)
    first = plan_gc(stores, POLICY, now=later())
    second = plan_gc(stores, POLICY, now=later())

    def interleave(point: str, flow: str) -> None:
        if point == "after_sweep_batch" and not interleave.done:
            interleave.done = True
            collect(stores, second)  # the other collector runs to the end meanwhile

    interleave.done = False
    collect(stores, first, hook=interleave)
    collect(stores, first)  # and a stale plan replayed once more fails on nothing
    expect_state(stores, ids, KEPT, REMOVED_RUNS)
    assert len(blob_keys(stores)) == 9


def test_code_packages_of_kept_runs_are_kept(backend):
    namespace(None)
    stores = open_stores()
    artifacts = stores.artifacts(FLOW)
    packages = {}
    for n in range(3):
        run = record_run(stores, FLOW, {"x": n})
        packages[run] = artifacts.put_bytes(f"code package {n}".encode())
        # What a remote task records when it starts (flowlib.remote.bootstrap sets the env).
        stores.metadata.set_attempt_resources(
            FLOW, run, "end", "1", 0, {"cpu": 1, "memory": 4096, "gpu": 0,
                                       "compute": "batch", "code_package": packages[run]})
    oldest, *kept = sorted(packages, key=int)
    assert packages[oldest] in stores.metadata.run_blob_keys(FLOW, oldest)
    collect(stores, plan_gc(stores, RetentionPolicy(keep_last=2, grace_hours=1), now=later()))
    left = blob_keys(stores)
    assert packages[oldest] not in left
    assert all(packages[r] in left for r in kept)


def test_policy_that_deletes_everything_is_refused():
    with pytest.raises(FlowlibError, match="--delete-all"):
        RetentionPolicy(keep_last=0).check()
    RetentionPolicy(keep_last=0).check(allow_delete_all=True)
    with pytest.raises(FlowlibError, match="No retention policy"):
        RetentionPolicy().check()


def test_real_flow_runs_kept_readable_and_resume_of_a_removed_run_says_so(local):
    from tests.support.backends import FLOWS

    local.run(FLOWS / "linear_flow.py", "run")
    local.run(FLOWS / "linear_flow.py", "run")
    stores = open_stores()
    report = collect(stores, plan_gc(stores, RetentionPolicy(keep_last=1, grace_hours=1),
                                     now=later()))
    assert report.blobs_deleted > 0  # run 1's logs and the artifacts only it held
    # In the user's default namespace too: the removal is what the client reports.
    with pytest.raises(NotFoundError, match="run 1 was removed by retention"):
        Run("LinearFlow/1")
    kept = Run("LinearFlow/2")
    assert "hello world" in kept["start"].task.stdout
    assert kept.data.name_ == "world" and kept["middle"].task.data.items[-1] == 99
    proc = local.run(FLOWS / "linear_flow.py", "resume", "--origin-run-id", "1", expect=1)
    assert "run LinearFlow/1 was removed by retention" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_latest_run_skips_runs_removed_by_retention(local):
    namespace(None)
    stores = open_stores()
    first = record_run(stores, FLOW, {"x": 1}, tags=["keep"])
    newest = record_run(stores, FLOW, {"x": 2}, status=FAILED)
    assert stores.metadata.mark_run_removing(FLOW, newest, time.time(), ["keep"])
    assert Flow(FLOW).latest_run.id == first
    assert [r.id for r in Flow(FLOW).runs("keep")] == [first]


def test_crashed_runs_are_collected_only_when_silent_beyond_the_margin(backend):
    """A run whose runtime died stays "running" in the store. gc treats it as running (kept)
    until it has not been heard from for ``crash_margin`` (the grace period, at least ten
    heartbeat timeouts), then like a failed run; a heartbeat that gets through between the
    plan and the mark spares it (the mark's condition reads the heartbeat)."""
    from flowlib.metadata.liveness import effective_status, last_seen
    from flowlib.retention.policy import crash_margin

    namespace(None)
    stores = open_stores()
    meta = stores.metadata
    policy = RetentionPolicy(keep_last=1, grace_hours=1)
    crashed = record_run(stores, FLOW, {"x": "crashed run"}, status=RUNNING, finish_run=False)
    revived = record_run(stores, FLOW, {"x": "revived run"}, status=RUNNING, finish_run=False)
    record_run(stores, FLOW, {"x": "newest"})
    seen = max(last_seen(meta.get_run(FLOW, r)) for r in (crashed, revived))
    margin = crash_margin(policy)
    assert margin == HOUR

    # Crashed (no heartbeat for far longer than the liveness timeout) but within the margin.
    within = seen + margin / 2
    assert effective_status(meta.get_run(FLOW, crashed), within) == "crashed"
    plan = plan_gc(stores, policy, now=within)
    assert plan.flows[0].remove == []

    # Silent beyond the margin: collectable, unless its runtime is heard from before the mark.
    plan = plan_gc(stores, policy, now=seen + margin + 0.001)
    assert sorted(r.run_id for r in plan.flows[0].remove) == sorted([crashed, revived])
    meta.heartbeat(FLOW, revived)  # later than seen + 0.001: the runtime was only cut off
    report = collect(stores, plan)
    assert report.runs_removed[FLOW] == [crashed] and report.runs_skipped[FLOW] == [revived]
    assert meta.get_run(FLOW, crashed).retention == REMOVED
    assert Run(f"{FLOW}/{revived}")["end"].task.data.x == "revived run"
    with pytest.raises(NotFoundError, match="removed by retention"):
        Run(f"{FLOW}/{crashed}")


def test_a_resume_cloning_from_a_run_gc_marked_meanwhile_stops(local):
    """The runtime checks the origin after recording each clone (``check_origin_kept``): a clone
    recorded before gc's mark is seen by the sweep's re-read of running runs, one recorded
    after it stops the resume with a clear error instead of referencing deleted blobs."""
    from flowlib.runtime.resume import ResumePlan

    namespace(None)
    stores = open_stores()
    origin = record_run(stores, FLOW, {"x": 1})
    plan = ResumePlan.__new__(ResumePlan)  # only the origin check, not a whole resume plan
    plan.meta, plan.flow, plan.origin_run_id = stores.metadata, FLOW, origin
    plan.check_origin_kept()
    assert stores.metadata.mark_run_removing(FLOW, origin, time.time(), ["keep"])
    with pytest.raises(FlowlibError, match=f"resume: run {FLOW}/{origin} was marked for "
                       "removal by retention"):
        plan.check_origin_kept()


def test_blobs_a_deployment_holds_survive_gc_until_it_releases_them(backend):
    """A deployed flow's code package is referenced by no kept run when the deployment has
    not run for longer than the grace period: its hold keeps it (BlobStore.hold)."""
    namespace(None)
    stores = open_stores()
    ids = seven_runs(stores)
    blobs = stores.make_blobstore(FLOW)
    package = blobs.put([b"the deployed code package"])
    blobs.hold("stepfunctions/ci-RetainFlow", [package])

    plan = plan_gc(stores, POLICY, now=later())
    assert plan.flows[0].held == 1 and plan.to_dict()["flows"][0]["held_by_deployments"] == 1
    collect(stores, plan)
    assert package in blob_keys(stores)
    expect_state(stores, ids, KEPT, REMOVED_RUNS)

    blobs.release("stepfunctions/ci-RetainFlow")
    collect(stores, plan_gc(stores, POLICY, now=later()))
    assert package not in blob_keys(stores)
