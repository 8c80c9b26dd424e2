"""What Metaflow's own core tests (test/core, measured by bench/metaflow_core.py) need beyond
issue 17: one local run of a flow using those names, then the client and the flow object as the
tests' checkers use them."""

from __future__ import annotations

import importlib.util
import pickle

import pytest

from flowlib import Flow, Run, Task, default_namespace, get_namespace, namespace
from flowlib.exception import MetaflowNamespaceMismatch, MetaflowNotFound
from tests.support.backends import FLOWS

FLOW = "compat/core_names_flow.py"


def test_metaflow_core_names(local, monkeypatch):
    # METAFLOW_USER names the user, here and in the flow's process; runs are in its namespace.
    monkeypatch.delenv("FLOWLIB_USER", raising=False)
    monkeypatch.setenv("METAFLOW_USER", "tester")
    default_namespace()
    local.run(FLOW, "run", "--tag", "mine", env={"METAFLOW_BRANCH": "exp"})
    run = Flow("CoreNamesFlow").latest_run
    start = run["start"].task.data
    assert start.assign_refused and start.LIMIT == 3 and start.same_current
    assert start.project == ["core_names", "test.exp", "core_names.test.exp.CoreNamesFlow",
                             False, False]
    assert start.seen == ["start", run["start"].task.pathspec, run.pathspec, "user:tester",
                          {"mine"}]
    assert {"user:tester", "project:core_names", "project_branch:test.exp"} <= run.system_tags
    join = run["join"].task.data
    assert join.conflicts == ["x"] and join.missing_is_metaflow_exception
    assert join.common == "same" and "x" not in run["join"].task
    left = run["left"].task
    assert [m.value for m in left.metadata if m.type == "attempt"] == ["0", "1"]
    assert left.metadata_dict["attempt"] == "1"
    assert [s.id for s in run["join"].parent_steps] == ["left", "right"]
    assert [s.id for s in run["join"].child_steps] == ["fan"]
    assert list(run["start"].parent_steps) == [] and list(run["end"].child_steps) == []
    assert run["gather"].task.data.frames == [("fan", "items", 0), ("fan", "items", 1)]

    # dump --include is a filter (Metaflow's): a task without the artifact dumps nothing.
    out = local.workdir / "dump.pkl"
    local.run(FLOW, "dump", f"{run.id}/start", "--include", "absent,LIMIT", "--file", str(out))
    assert pickle.loads(out.read_bytes()) == {run["start"].task.pathspec: {"LIMIT": 3}}
    proc = local.run(FLOW, "dump", f"{run.id}/start", "--name", "absent", expect=1)
    assert "has no artifact absent" in proc.stderr

    # Resumed from join: cloned tasks name their origin task, re-run ones only the origin run.
    local.run(FLOW, "resume", "join", "--origin-run-id", run.id, env={"METAFLOW_BRANCH": "exp"})
    resumed = Flow("CoreNamesFlow").latest_run
    cloned, rerun = resumed["start"].task.metadata_dict, resumed["join"].task.metadata_dict
    assert cloned["origin-run-id"] == rerun["origin-run-id"] == run.id
    assert "origin-task-id" in cloned and "origin-task-id" not in rerun

    # Another user's namespace refuses the run with Metaflow's exception (a kind of "not found").
    assert get_namespace() == "user:tester"
    namespace("user:nobody")
    with pytest.raises(MetaflowNamespaceMismatch) as refused:
        Flow("CoreNamesFlow")[run.id]
    assert isinstance(refused.value, MetaflowNotFound)
    # Metaflow's _namespace_check=False reads it anyway; steps(*tags) filters on run tags.
    task = Task(run["end"].task.pathspec, _namespace_check=False)
    assert task.path_components == task.pathspec.split("/")
    assert Run(run.pathspec, _namespace_check=False).id == run.id == task.parent.parent.id
    namespace(None)
    assert len({s.id for s in run.steps("mine")}) == 8
    assert list(run.steps("mine", "absent")) == []

    # Iterating a flow object gives its steps in graph order (Metaflow's checkers do this).
    spec = importlib.util.spec_from_file_location("core_names_flow", FLOWS / FLOW)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    flow = module.CoreNamesFlow(use_cli=False)
    order = ["start", "left", "right", "join", "fan", "each", "gather", "end"]
    assert [s.name for s in flow] == order
    assert flow._graph["join"].type == "join" and flow._graph["start"].type == "split"

    # A task takes its branch from its run's project_branch tag, not from its own environment
    # (a task on Batch, Kubernetes or Step Functions does not see the launcher's variables).
    from types import SimpleNamespace

    from flowlib.runtime.task import _project_fields
    from flowlib.stores import open_stores

    monkeypatch.setenv("FLOWLIB_PRODUCTION", "1")
    fields = _project_fields(module.CoreNamesFlow, open_stores(),
                             SimpleNamespace(flow="CoreNamesFlow", run_id=run.id))
    assert (fields["branch_name"], fields["is_production"]) == ("test.exp", False)


def test_secrets_sources_in_metaflow_mapping_form():
    from flowlib.exceptions import FlowlibError
    from flowlib.taskenv.apply import resolve_secrets
    from flowlib.taskenv.decorators import SecretsDecorator
    from flowlib.taskenv.fetch import SourceReader
    from flowlib.taskenv.sources import SECRETS_MANAGER, parse_source

    inline = {"type": "inline", "id": "1",
              "options": {"env_vars": {"secret_1": "Pizza", "SECRET_2": "eels"}}}
    decorator = SecretsDecorator(sources=[inline])
    (kept,) = decorator.sources
    assert isinstance(kept, str)  # one string, as every source travels
    assert resolve_secrets(decorator.sources, SourceReader()) == {"secret_1": "Pizza",
                                                                  "SECRET_2": "eels"}
    assert parse_source(kept).label == "inline source 'inline:1'"  # values never shown
    named = parse_source({"type": "aws-secrets-manager", "id": "team/db"})
    assert (named.service, named.ident) == (SECRETS_MANAGER, "team/db")
    with pytest.raises(FlowlibError, match="a source given as a mapping"):
        SecretsDecorator(sources=[{"type": "inline", "options": {"env_vars": {"A": 1}}}])
