"""Metaflow user code runs unchanged (issue 17): Config objects, tag mutation from steps, the
client API names a Metaflow notebook uses and Metaflow's command-line options."""

from __future__ import annotations

import json
import pickle

import pytest

import flowlib
from flowlib import Flow, Metaflow, Run, Step, Task, get_metadata

FLOW = "compat/config_tags_flow.py"


def _config(workdir, lr: float = 0.1, retries: int = 2, name: str = "config.json") -> None:
    (workdir / name).write_text(json.dumps({"retries": retries, "model": {"lr": lr}}))


def test_config_and_tag_mutations_from_parallel_steps(backend):
    _config(backend.workdir)
    backend.run(FLOW, "run")
    run = Flow("ConfigTagsFlow").latest_run
    assert run.successful
    start = run["start"].task
    assert start.data.lr == 0.1 and start.data.RETRIES == 2
    assert start.data.cfg == {"retries": 2, "model": {"lr": 0.1}}  # stored with the run
    assert run["join"].task.data.lrs == [0.1] and run.data.lr_end == 0.1
    # Every task saw its own tag at once; no concurrent add lost another's tag.
    assert run["join"].task.data.all_saw_own
    assert run.user_tags == {"shard-zero", "shard-1", "shard-2"}
    assert Flow("ConfigTagsFlow").runs("shard-zero") and not list(
        Flow("ConfigTagsFlow").runs("shard-3")
    )


def test_config_from_the_command_line_reaches_fresh_task_processes(backend):
    _config(backend.workdir)
    _config(backend.workdir, lr=0.5, name="prod.json")
    # Tasks started as fresh interpreters (as on Batch) see the run's value, not the default.
    backend.run(FLOW, "--config", "cfg", "prod.json", "run", env={"FLOWLIB_LAUNCHER": "subprocess"})
    run = Flow("ConfigTagsFlow").latest_run
    assert run["join"].task.data.lrs == [0.5] and run.data.lr_end == 0.5
    proc = backend.run(FLOW, "--config-value", "cfg", "{not json", "run", expect=1)
    assert "Config 'cfg': --config-value is not valid JSON" in proc.stderr


def test_client_api_names(backend):
    _config(backend.workdir)
    backend.run(FLOW, "run")
    flow = Flow("ConfigTagsFlow")
    run = flow.latest_run
    join = run["join"].task
    taggers = list(run["tagger"].tasks())
    assert sorted(t.pathspec for t in join.parent_tasks) == sorted(t.pathspec for t in taggers)
    start = run["start"].task
    assert list(start.parent_tasks) == []
    assert sorted(t.pathspec for t in start.child_tasks) == sorted(t.pathspec for t in taggers)
    assert join.parent.pathspec == f"{run.pathspec}/join" and join.parent.parent.id == run.id
    assert run.parent.id == "ConfigTagsFlow" and flow.parent is None
    assert join["lrs"].parent.pathspec == join.pathspec
    assert join.tags == run.tags and run["join"].tags == run.tags and run.code is None
    meta = taggers[0].metadata_dict
    assert meta["attempt"] == "0" and meta["runtime"] == "flowlib" and "foreach-index" in meta
    assert [m.name for m in taggers[0].metadata][:2] == ["attempt", "status"]
    lines = [line for _, line in taggers[0].loglines("stdout")]
    assert lines and lines[0].startswith("tagged shard-")
    run.replace_tags(["shard-1"], ["reviewed"])
    assert "reviewed" in Run(run.pathspec).user_tags and "shard-1" not in run.user_tags
    assert get_metadata().split("@")[0] in ("local", "dynamodb")
    assert "ConfigTagsFlow" in [f.id for f in Metaflow().flows]
    assert flowlib.Metaflow is Metaflow
    # A resumed run: cloned tasks and steps say where they came from.
    backend.run(FLOW, "resume", "join", "--origin-run-id", run.id)
    resumed = Flow("ConfigTagsFlow").latest_run
    assert resumed.origin_pathspec == run.pathspec
    assert Step(f"{resumed.pathspec}/start").origin_pathspec == f"{run.pathspec}/start"
    assert Task(resumed["start"].task.pathspec).origin_pathspec == start.pathspec


def test_metaflow_command_line_options(local, tmp_path):
    _config(local.workdir)
    elsewhere = tmp_path / "other-store"
    id_file = tmp_path / "run-id"
    proc = local.run(
        FLOW,
        "--metadata", "local", "--datastore", "local", "--datastore-root", str(elsewhere),
        "--quiet", "--environment", "conda", "--no-pylint",
        "run", "--run-id-file", str(id_file),
    )
    assert "--environment conda ignored" in proc.stderr and "--no-pylint" in proc.stderr
    assert "starting" not in proc.stdout  # --quiet
    run_id = id_file.read_text()
    assert (elsewhere / "metadata.db").exists()
    top = ["--datastore-root", str(elsewhere)]
    proc = local.run(FLOW, *top, "logs", f"{run_id}/start")
    proc = local.run(FLOW, *top, "dump", f"{run_id}/start", "--include", "lr,shards")
    assert "lr (float" in proc.stdout and "shards (list" in proc.stdout
    proc = local.run(FLOW, *top, "dump", f"{run_id}/tagger", "--include", "saw_own")
    assert proc.stdout.count("saw_own") == 4  # every task of the step
    out = tmp_path / "dump.pkl"
    local.run(FLOW, *top, "dump", f"{run_id}/end", "--file", str(out), "--private")
    dumped = pickle.loads(out.read_bytes())
    assert dumped[f"ConfigTagsFlow/{run_id}/end/{_end_id(dumped)}"]["lr_end"] == 0.1
    proc = local.run(FLOW, *top, "logs", f"{run_id}/tagger", expect=1)
    assert "has 4 tasks" in proc.stderr and "Traceback" not in proc.stderr
    local.run(FLOW, *top, "tag", "replace", "--run-id", run_id, "shard-zero", "first")
    proc = local.run(FLOW, *top, "tag", "list", "--flat", "--run-id", run_id)
    assert proc.stdout.split() == ["first", "shard-1", "shard-2"]
    proc = local.run(FLOW, "--metadata", "service", "run", expect=1)
    assert "flowlib has no metadata service" in proc.stderr


def _end_id(dumped: dict) -> str:
    (only,) = dumped
    return only.rsplit("/", 1)[1]


@pytest.fixture(autouse=True)
def _all_namespaces():
    from flowlib import namespace

    namespace(None)
    yield


def test_resume_refuses_a_changed_config(local):
    _config(local.workdir)
    local.run(FLOW, "run")
    _config(local.workdir, lr=0.9)
    proc = local.run(FLOW, "resume", "join", expect=1)
    assert "Config 'cfg' now differs from the one run 1 used" in proc.stderr
    _config(local.workdir)
    local.run(FLOW, "resume", "join")
