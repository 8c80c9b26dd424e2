"""The client API: lookups, namespaces, latest runs, steps, tasks and artifact listings."""

from __future__ import annotations

import pytest

from flowlib import Flow, Run, Step, Task, default_namespace, get_namespace, namespace
from flowlib.exceptions import NotFoundError


def test_namespaces_filter_by_user(backend):
    backend.run("branch_flow.py", "run", env={"FLOWLIB_USER": "alice"})
    backend.run("branch_flow.py", "run", env={"FLOWLIB_USER": "bob"})
    namespace("user:alice")
    assert [r.id for r in Flow("BranchFlow").runs()] == ["1"]
    assert Flow("BranchFlow").latest_run.id == "1"
    with pytest.raises(NotFoundError, match="not in the namespace 'user:alice'"):
        Run("BranchFlow/2")
    namespace(None)
    assert get_namespace() is None
    assert [r.id for r in Flow("BranchFlow").runs()] == ["2", "1"]
    assert Run("BranchFlow/2").user == "bob"
    assert default_namespace().startswith("user:")


def test_latest_successful_run_and_navigation(backend):
    backend.run("switch_flow.py", "run")
    backend.run("switch_flow.py", "run", "--mode", "none", expect=1)
    flow = Flow("SwitchFlow")
    assert flow.latest_run.id == "2" and not flow.latest_run.successful
    good = flow.latest_successful_run
    assert good.id == "1"
    assert [s.id for s in good] == ["end", "after", "fast", "start"]
    step = Step("SwitchFlow/1/fast")
    assert step.task.data.path == "fast"
    task = Task(step.task.pathspec)
    assert task.successful and task.finished and task.created_at <= task.finished_at
    assert good.created_at <= good.finished_at and flow["1"].pathspec == "SwitchFlow/1"
    names = {a.id: a.type for a in task}
    assert names["path"] == "str" and "mode" in names  # parameters are artifacts too
    assert "path" in task.data.__dir__()
    failed = flow.latest_run["start"].task
    assert "medium" not in str(failed.exception) and "none" in str(failed.exception)
