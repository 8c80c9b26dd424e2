"""The metadata store contract (flowlib/metadata/base.py), run against every backend: SQLite
and DynamoDB (on the moto server). Every public method, and each failure mode it documents."""

from __future__ import annotations

import time

import pytest

from flowlib.datastore.artifacts import ArtifactRef
from flowlib.metadata.base import (
    AttemptAlreadyStartedError,
    AttemptNotStartedError,
    RunNotFoundError,
    TaskExistsError,
    TaskNotRegisteredError,
)
from flowlib.metadata.records import (
    FAILED,
    REMOVED,
    REMOVING,
    SUCCEEDED,
    CardRecord,
    RunFilter,
    Status,
    TaskRecord,
)

REF_A = ArtifactRef("ab" * 20, 3, "builtins.int")
REF_B = ArtifactRef("cd" * 20, 5, "builtins.str", "pickle")
ERROR = {"type": "ValueError", "message": "boom", "traceback": "Traceback ..."}


def _register(meta, run_id, step="start", task_id="1", created=None, **kw):
    task = TaskRecord("F", run_id, step, task_id, "pending", created or time.time(), **kw)
    meta.create_tasks([task])
    return task


def _started(meta, step="start", task_id="1"):
    run = meta.create_run("F", "alice", ["user:alice"], [])
    _register(meta, run.run_id, step, task_id)
    meta.start_attempt("F", run.run_id, step, task_id, 0)
    return run.run_id


# -- runs ----------------------------------------------------------------------------------
def test_runs_are_numbered_per_flow_and_read_back_as_created(metadata):
    first = metadata.create_run("F", "alice", ["user:alice", "runtime:flowlib"], ["b", "a"])
    second = metadata.create_run("F", "bob", ["user:bob"], [], origin_run_id=first.run_id)
    other = metadata.create_run("G", "alice", [], [])
    assert (first.run_id, second.run_id, other.run_id) == ("1", "2", "1")
    assert first.status is Status.RUNNING and first.finished is None
    assert first.heartbeat is not None and first.created <= first.heartbeat
    assert metadata.get_run("F", "1") == first
    assert metadata.get_run("F", "2").origin_run_id == "1"
    assert first.tags == ["a", "b"] and first.system_tags == ["runtime:flowlib", "user:alice"]
    assert metadata.list_flows() == ["F", "G"]


def test_tags_are_deduplicated_and_a_system_tag_wins(metadata):
    run = metadata.create_run("F", "alice", ["user:alice", "user:alice"], ["x", "x", "user:alice"])
    assert run.tags == ["x"] and run.system_tags == ["user:alice"]
    assert metadata.get_run("F", run.run_id) == run


def test_unknown_or_malformed_run_ids_name_no_run(metadata):
    metadata.create_run("F", "alice", [], [])
    for run_id in ("2", "latest", "x"):
        assert metadata.get_run("F", run_id) is None
        assert metadata.get_task("F", run_id, "start", "1") is None
        assert metadata.list_tasks("F", run_id) == []
        assert metadata.list_attempts("F", run_id, "start", "1") == []
        assert metadata.get_artifacts("F", run_id, "start", "1") == {}
    assert metadata.get_run("G", "1") is None


def test_update_run_and_heartbeat(metadata):
    run = metadata.create_run("F", "alice", [], [])
    metadata.update_run("F", run.run_id, Status.SUCCEEDED, 1234.5)
    got = metadata.get_run("F", run.run_id)
    assert got.status == "succeeded" and got.status is Status.SUCCEEDED and got.finished == 1234.5
    metadata.update_run("F", run.run_id, "running", None)  # plain strings are accepted
    assert metadata.get_run("F", run.run_id).finished is None
    before = metadata.get_run("F", run.run_id).heartbeat
    time.sleep(0.01)
    metadata.heartbeat("F", run.run_id)
    assert metadata.get_run("F", run.run_id).heartbeat > before


@pytest.mark.parametrize("call", [
    lambda m, r: m.update_run("F", r, Status.FAILED, 1.0),
    lambda m, r: m.heartbeat("F", r),
    lambda m, r: m.add_tags("F", r, ["x"]),
    lambda m, r: m.remove_tags("F", r, ["x"]),
], ids=["update_run", "heartbeat", "add_tags", "remove_tags"])
def test_changing_a_missing_run_raises_and_creates_nothing(metadata, call):
    metadata.create_run("F", "alice", [], [])
    for run_id in ("7", "latest"):
        with pytest.raises(RunNotFoundError, match="does not exist"):
            call(metadata, run_id)
    assert [r.run_id for r in metadata.list_runs("F")] == ["1"]
    assert list(metadata.list_runs("F", tags=["x"])) == []


def test_add_and_remove_tags_leave_system_tags_alone(metadata):
    run = metadata.create_run("F", "alice", ["user:alice", "runtime:flowlib"], ["a"])
    metadata.add_tags("F", run.run_id, ["b", "c", "b", "user:alice"])
    metadata.remove_tags("F", run.run_id, ["a", "runtime:flowlib", "never-there"])
    got = metadata.get_run("F", run.run_id)
    assert got.tags == ["b", "c"] and got.system_tags == ["runtime:flowlib", "user:alice"]
    assert [r.run_id for r in metadata.list_runs("F", tags=["b"])] == [run.run_id]
    assert list(metadata.list_runs("F", tags=["a"])) == []


def test_list_runs_newest_first_by_tags_with_a_limit(metadata):
    for i in range(1, 13):
        tags = (["even"] if i % 2 == 0 else []) + (["third"] if i % 3 == 0 else [])
        metadata.create_run("F", "alice", ["user:alice"], tags)
    assert [r.run_id for r in metadata.list_runs("F", limit=3)] == ["12", "11", "10"]
    assert [r.run_id for r in metadata.list_runs("F", tags=["even", "third"])] == ["12", "6"]
    assert [r.run_id for r in metadata.list_runs("F", tags=["user:alice"], limit=2)] == [
        "12", "11"]
    runs = metadata.list_runs("F")
    assert next(runs).run_id == "12"  # lazily read: the caller may stop at any point
    assert list(metadata.list_runs("F", tags=["nope"])) == []
    assert list(metadata.list_runs("Nobody")) == []


# -- tasks and attempts ----------------------------------------------------------------------
def test_tasks_are_registered_pending_and_listed_oldest_first(metadata):
    run = metadata.create_run("F", "alice", [], [])
    now = time.time()
    metadata.create_tasks([
        TaskRecord("F", run.run_id, "train", str(i), "pending", now, [{"index": i}],
                   ["F/1/start/1"])
        for i in (10, 2, 1)
    ])
    _register(metadata, run.run_id, "start", "0", created=now - 1)
    tasks = metadata.list_tasks("F", run.run_id)
    assert [t.task_id for t in tasks] == ["0", "1", "2", "10"]
    train = metadata.list_tasks("F", run.run_id, "train")
    assert [t.task_id for t in train] == ["1", "2", "10"]
    assert train[0].status is Status.PENDING and train[0].attempts == 0
    assert train[0].foreach_stack == [{"index": 1}] and train[0].input_paths == ["F/1/start/1"]
    assert train[0].pathspec == "F/1/train/1"


def test_registering_a_task_twice(metadata):
    run = metadata.create_run("F", "alice", [], [])
    _register(metadata, run.run_id)
    if type(metadata).__name__ == "DynamoDBMetadataStore":
        pytest.skip("DynamoDB's batch writes cannot be conditional (documented in base.py)")
    with pytest.raises(TaskExistsError, match="already registered"):
        _register(metadata, run.run_id)


def test_an_attempt_starts_once_and_only_for_a_registered_task(metadata):
    run_id = _started(metadata)
    task = metadata.get_task("F", run_id, "start", "1")
    assert task.status is Status.RUNNING and task.attempts == 1
    [attempt] = metadata.list_attempts("F", run_id, "start", "1")
    assert (attempt.attempt, attempt.status, attempt.finished) == (0, Status.RUNNING, None)
    with pytest.raises(AttemptAlreadyStartedError, match="already started"):
        metadata.start_attempt("F", run_id, "start", "1", 0)
    # SQLite used to accept this; both stores now refuse, and record nothing.
    with pytest.raises(TaskNotRegisteredError, match="not registered"):
        metadata.start_attempt("F", run_id, "start", "2", 0)
    assert metadata.get_task("F", run_id, "start", "2") is None
    assert metadata.list_attempts("F", run_id, "start", "2") == []


def test_restart_reopens_a_running_attempt_but_never_a_finished_one(metadata):
    run_id = _started(metadata)
    metadata.start_attempt("F", run_id, "start", "1", 0, restart=True)
    assert len(metadata.list_attempts("F", run_id, "start", "1")) == 1
    metadata.finish_attempt("F", run_id, "start", "1", 0, Status.FAILED, {}, None, ERROR)
    with pytest.raises(AttemptAlreadyStartedError):
        metadata.start_attempt("F", run_id, "start", "1", 0, restart=True)
    assert metadata.list_attempts("F", run_id, "start", "1")[0].status is Status.FAILED


def test_finish_attempt_records_outcome_artifacts_and_transition(metadata):
    run_id = _started(metadata)
    metadata.finish_attempt("F", run_id, "start", "1", 0, Status.FAILED, {}, None, ERROR)
    [failed] = metadata.list_attempts("F", run_id, "start", "1")
    assert failed.status is Status.FAILED and failed.error == ERROR and failed.finished
    assert metadata.get_task("F", run_id, "start", "1").status is Status.FAILED
    metadata.start_attempt("F", run_id, "start", "1", 1)
    refs = {"a": REF_A, "b": REF_B}
    metadata.finish_attempt("F", run_id, "start", "1", 1, "succeeded", refs,
                            {"next": ["end"], "foreach": None}, None)
    task = metadata.get_task("F", run_id, "start", "1")
    assert task.status is Status.SUCCEEDED and task.attempts == 2 and task.finished
    assert task.transition == {"next": ["end"], "foreach": None}
    assert [(a.attempt, a.status) for a in metadata.list_attempts("F", run_id, "start", "1")] \
        == [(0, Status.FAILED), (1, Status.SUCCEEDED)]
    assert metadata.list_attempts("F", run_id, "start", "1")[1].error is None


def test_finishing_an_attempt_that_never_started_changes_nothing(metadata):
    run_id = _started(metadata)
    with pytest.raises(AttemptNotStartedError, match="never started"):
        metadata.finish_attempt("F", run_id, "start", "1", 3, Status.SUCCEEDED, {"a": REF_A},
                                {"next": []}, None)
    with pytest.raises(AttemptNotStartedError):
        metadata.finish_attempt("F", run_id, "start", "9", 0, Status.FAILED, {}, None, ERROR)
    assert metadata.get_task("F", run_id, "start", "1").status is Status.RUNNING
    assert metadata.get_artifacts("F", run_id, "start", "1", attempt=3) == {}
    assert [a.attempt for a in metadata.list_attempts("F", run_id, "start", "1")] == [0]


def test_logs_attach_to_a_started_attempt_only(metadata):
    run_id = _started(metadata)
    metadata.set_attempt_logs("F", run_id, "start", "1", 0, {"stdout": "ef" * 20})
    metadata.set_attempt_logs("F", run_id, "start", "1", 0, {"stdout": "01" * 20,
                                                              "stderr": "23" * 20})
    assert metadata.list_attempts("F", run_id, "start", "1")[0].logs == {
        "stdout": "01" * 20, "stderr": "23" * 20}
    with pytest.raises(AttemptNotStartedError, match="never started"):
        metadata.set_attempt_logs("F", run_id, "start", "1", 1, {"stdout": "ef" * 20})
    assert [a.attempt for a in metadata.list_attempts("F", run_id, "start", "1")] == [0]


def test_artifacts_of_the_successful_attempt_else_the_latest(metadata):
    run_id = _started(metadata)
    assert metadata.get_artifacts("F", run_id, "start", "1") == {}
    metadata.finish_attempt("F", run_id, "start", "1", 0, Status.FAILED, {"a": REF_A}, None,
                            ERROR)
    assert metadata.get_artifacts("F", run_id, "start", "1") == {"a": REF_A}
    metadata.start_attempt("F", run_id, "start", "1", 1)
    metadata.finish_attempt("F", run_id, "start", "1", 1, Status.SUCCEEDED, {"b": REF_B},
                            {"next": []}, None)
    metadata.start_attempt("F", run_id, "start", "1", 2)  # e.g. a @catch fallback left running
    assert metadata.get_artifacts("F", run_id, "start", "1") == {"b": REF_B}
    assert metadata.get_artifacts("F", run_id, "start", "1", attempt=0) == {"a": REF_A}
    assert metadata.get_artifacts("F", run_id, "start", "1", attempt=5) == {}


def test_bulk_reads_equal_the_one_at_a_time_reads_in_the_order_asked(metadata):
    run = metadata.create_run("F", "alice", ["user:alice"], [])
    run_id = run.run_id
    # 130 tasks: more than one BatchGetItem request (100 keys) on DynamoDB.
    metadata.create_tasks([TaskRecord("F", run_id, "work", f"1-{i}", "pending", time.time(),
                                      foreach_stack=[{"step": "start", "index": i}])
                           for i in range(130)])
    for i in range(0, 130, 3):
        metadata.start_attempt("F", run_id, "work", f"1-{i}", 0)
        metadata.finish_attempt("F", run_id, "work", f"1-{i}", 0, Status.SUCCEEDED,
                                {"a": ArtifactRef(f"{i:040d}", i, "builtins.int")},
                                {"next": ["join"]}, None)
    keys = [("work", f"1-{i}") for i in reversed(range(130))]
    keys += [("work", "1-999"), ("other", "1-0"), ("work", "1-3")]  # unknown ones; a repeat
    tasks = metadata.get_tasks("F", run_id, keys)
    assert tasks == [metadata.get_task("F", run_id, *key) for key in keys]
    assert tasks[0].task_id == "1-129" and tasks[-3] is None and tasks[-2] is None
    assert tasks[-1].foreach_stack == [{"step": "start", "index": 3}]
    refs = metadata.get_tasks_artifacts("F", run_id, keys)
    assert refs == [metadata.get_artifacts("F", run_id, *key) for key in keys]
    assert refs[-1] == {"a": ArtifactRef(f"{3:040d}", 3, "builtins.int")} and refs[1] == {}
    assert metadata.get_tasks("F", run_id, []) == [] == metadata.get_tasks_artifacts(
        "F", run_id, [])
    assert metadata.get_tasks("F", "not-a-run", [("work", "1-0")]) == [None]


def test_clone_reuses_the_successful_outcome(metadata):
    run_id = _started(metadata)
    metadata.finish_attempt("F", run_id, "start", "1", 0, Status.FAILED, {}, None, ERROR)
    metadata.start_attempt("F", run_id, "start", "1", 1)
    metadata.finish_attempt("F", run_id, "start", "1", 1, Status.SUCCEEDED, {"a": REF_A},
                            {"next": ["end"]}, None)
    metadata.set_attempt_logs("F", run_id, "start", "1", 1, {"stdout": "ef" * 20})
    source = metadata.get_task("F", run_id, "start", "1")
    resumed = metadata.create_run("F", "alice", [], [], origin_run_id=run_id)
    metadata.clone_task(source, resumed.run_id, "7", ["F/2/_parameters/0"], [{"index": 0}])
    clone = metadata.get_task("F", resumed.run_id, "start", "7")
    assert clone.status is Status.SUCCEEDED and clone.origin == "F/1/start/1"
    assert clone.transition == {"next": ["end"]} and clone.foreach_stack == [{"index": 0}]
    assert clone.input_paths == ["F/2/_parameters/0"]
    [attempt] = metadata.list_attempts("F", resumed.run_id, "start", "7")
    assert attempt.attempt == 1 and attempt.status is Status.SUCCEEDED
    assert attempt.logs == {"stdout": "ef" * 20}
    assert metadata.get_artifacts("F", resumed.run_id, "start", "7") == {"a": REF_A}
    with pytest.raises(TaskExistsError, match="already exists"):
        metadata.clone_task(source, resumed.run_id, "7", [], [])


def test_preflight_passes_on_a_usable_store(metadata):
    metadata.preflight()
    metadata.close()


# -- pages of runs and cards (the web UI's queries) -----------------------------------------
def _all_pages(meta, flow, filter=None, limit=7):
    seen, before, pages = [], None, 0
    while True:
        page = meta.list_runs_page(flow, filter, before, limit)
        assert len(page.runs) <= limit
        seen += [r.run_id for r in page.runs]
        pages += 1
        if page.next_before is None:
            return seen, pages
        before = page.next_before


def test_pages_of_runs_newest_first_with_filters(metadata):
    meta = metadata
    first = [meta.create_run("PageFlow", "alice", ["user:alice"], ["nightly"]) for _ in range(12)]
    middle = time.time()
    later = [meta.create_run("PageFlow", "bob", ["user:bob"], ["nightly", "gpu"] if i % 2 else [])
             for i in range(9)]
    for run in first[::3]:
        meta.update_run("PageFlow", run.run_id, FAILED, time.time())
    for run in later[:4]:
        meta.update_run("PageFlow", run.run_id, SUCCEEDED, time.time())
    every = [r.run_id for r in first + later][::-1]

    ids, pages = _all_pages(meta, "PageFlow")
    assert ids == every and pages == 3
    page = meta.list_runs_page("PageFlow", None, None, 21)
    assert [r.run_id for r in page.runs] == every and page.next_before is None

    def matching(**kwargs):
        return _all_pages(meta, "PageFlow", RunFilter(**kwargs), limit=4)[0]

    assert matching(user="bob") == [r.run_id for r in later][::-1]
    assert matching(status=FAILED) == [r.run_id for r in first[::3]][::-1]
    assert matching(tags=["nightly", "gpu"]) == [r.run_id for r in later[1::2]][::-1]
    assert matching(tags=["nightly"], user="alice", status=FAILED) == \
        [r.run_id for r in first[::3]][::-1]
    assert matching(created_after=middle) == [r.run_id for r in later][::-1]
    assert matching(created_before=middle, status="running") == \
        [r.run_id for r in first if r not in first[::3]][::-1]
    assert matching(user="nobody") == [] and matching(tags=["absent"]) == []
    assert meta.list_runs_page("NoSuchFlow", None, None, 5).runs == []
    assert meta.list_runs_page("PageFlow", None, "1", 5).runs == []


def test_cards_are_recorded_per_attempt_and_replaced_on_save(metadata):
    meta = metadata
    run = meta.create_run("CardPages", "alice", ["user:alice"], [])
    card = CardRecord("CardPages", run.run_id, "train", "3", 0, 0, "default", "k1", 1.0)
    meta.put_card(card)
    meta.put_card(CardRecord("CardPages", run.run_id, "train", "3", 0, 1, "blank", "k2", 2.0,
                             "report"))
    meta.put_card(CardRecord("CardPages", run.run_id, "train", "3", 1, 0, "default", "k3", 3.0))
    meta.put_card(CardRecord("CardPages", run.run_id, "train", "3", 0, 0, "default", "k4", 4.0))
    cards = meta.list_cards("CardPages", run.run_id, "train", "3")
    assert [(c.attempt, c.index, c.key, c.card_id, c.type) for c in cards] == [
        (0, 0, "k4", None, "default"), (0, 1, "k2", "report", "blank"),
        (1, 0, "k3", None, "default"),
    ]
    assert meta.list_cards("CardPages", run.run_id, "train", "4") == []
    assert meta.list_cards("CardPages", "not-a-run", "train", "3") == []


# -- attempt heartbeats ----------------------------------------------------------------------
def test_attempt_heartbeats_are_recorded_and_read_back(metadata):
    from flowlib.metadata.liveness import attempt_status

    run_id = _started(metadata)
    (attempt,) = metadata.list_attempts("F", run_id, "start", "1")
    assert attempt.heartbeat is None
    before = time.time()
    metadata.attempt_heartbeat("F", run_id, "start", "1", 0)
    (attempt,) = metadata.list_attempts("F", run_id, "start", "1")
    assert attempt.heartbeat is not None and attempt.heartbeat >= before - 1
    assert attempt_status(attempt, now=attempt.heartbeat + 1) == "running"
    assert attempt_status(attempt, now=attempt.heartbeat + 3600) == Status.CRASHED


# -- retention (flowlib.retention: gc) -------------------------------------------------------
def _finished(meta, flow="Gc", refs=None, logs=None, tags=()):
    """A finished run with one task whose successful attempt references ``refs`` and ``logs``."""
    run = meta.create_run(flow, "alice", ["user:alice"], list(tags))
    _register_in(meta, flow, run.run_id)
    meta.start_attempt(flow, run.run_id, "end", "1", 0)
    meta.finish_attempt(flow, run.run_id, "end", "1", 0, SUCCEEDED, refs or {}, {"next": []},
                        None)
    if logs:
        meta.set_attempt_logs(flow, run.run_id, "end", "1", 0, logs)
    meta.update_run(flow, run.run_id, SUCCEEDED, time.time())
    return run.run_id


def _register_in(meta, flow, run_id):
    meta.create_tasks([TaskRecord(flow, run_id, "end", "1", "pending", time.time())])


def test_run_blob_keys_are_every_reference_of_the_run(metadata):
    meta = metadata
    run_id = _finished(meta, refs={"a": REF_A}, logs={"stdout": "ef" * 20})
    # A failed earlier attempt's artifacts, the code package it ran, and a card count too.
    meta.create_tasks([TaskRecord("Gc", run_id, "train", "2", "pending", time.time())])
    meta.start_attempt("Gc", run_id, "train", "2", 0)
    meta.set_attempt_resources("Gc", run_id, "train", "2", 0,
                               {"cpu": 1, "code_package": "12" * 20})
    meta.finish_attempt("Gc", run_id, "train", "2", 0, FAILED, {"b": REF_B}, None, ERROR)
    meta.put_card(CardRecord("Gc", run_id, "train", "2", 0, 0, "default", "34" * 20, 1.0))
    assert meta.run_blob_keys("Gc", run_id) == {
        REF_A.key, REF_B.key, "ef" * 20, "12" * 20, "34" * 20}
    assert meta.run_attempt_resources("Gc", run_id) == {
        ("train", "2", 0): {"cpu": 1, "code_package": "12" * 20}}


def test_mark_refuses_running_pinned_and_removed_runs(metadata):
    meta = metadata
    running = meta.create_run("Gc", "alice", ["user:alice"], []).run_id
    pinned = _finished(meta, tags=["keep"])
    plain = _finished(meta, refs={"a": REF_A})
    now = time.time()
    assert not meta.mark_run_removing("Gc", running, now, ["keep"])
    assert not meta.mark_run_removing("Gc", pinned, now, ["keep"])
    assert not meta.mark_run_removing("Gc", "999", now, ["keep"])  # no such run
    assert meta.mark_run_removing("Gc", plain, now, ["keep"])
    assert meta.mark_run_removing("Gc", plain, now, ["keep"])  # idempotent (a re-run gc)
    marked = meta.get_run("Gc", plain)
    assert marked.retention == REMOVING and abs(marked.removed_at - now) < 1
    meta.finish_run_removal("Gc", plain)
    meta.finish_run_removal("Gc", plain)  # idempotent
    assert not meta.mark_run_removing("Gc", plain, now, ["keep"])  # already removed
    removed = meta.get_run("Gc", plain)
    assert removed.retention == REMOVED and removed.status is Status.SUCCEEDED
    assert meta.list_tasks("Gc", plain) == [] and meta.run_blob_keys("Gc", plain) == set()
    assert {r.run_id: r.retention for r in meta.list_runs("Gc")} == {
        running: None, pinned: None, plain: REMOVED}


def test_a_running_run_is_marked_only_when_silent_since_before_crashed_before(metadata):
    meta = metadata
    run_id = meta.create_run("Gc", "alice", ["user:alice"], []).run_id
    meta.heartbeat("Gc", run_id)
    seen = meta.get_run("Gc", run_id).heartbeat
    # Heard from after the cut-off: alive as far as gc can tell, refused.
    assert not meta.mark_run_removing("Gc", run_id, seen, [], crashed_before=seen - 60)
    assert meta.get_run("Gc", run_id).retention is None
    # Silent since before it: its runtime died, the run is collectable.
    assert meta.mark_run_removing("Gc", run_id, seen, [], crashed_before=seen + 60)
    assert meta.get_run("Gc", run_id).retention == REMOVING
