"""The Step Functions liveness probe's other verdicts, against moto without running a flow:
an execution that does not exist (never started, or its state machine deleted), a store of
runs that cannot reach Step Functions, runs deployed before runs recorded their execution, and
the refusal of @kubernetes steps (moto cannot execute eks:runJob.sync, so it is not built)."""

from __future__ import annotations

import time

import pytest

from flowlib.metadata.records import RunRecord
from tests.remote.stepfunctions.conftest import REPO
from tests.support.backends import Backend

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:t-gone-Flow"


def record(created: float, *tags: str) -> RunRecord:
    return RunRecord("Flow", "7", "alice", "running", created, None, None,
                     ["runtime:flowlib", "runtime:step-functions", *tags], [])


def test_missing_execution_unreachable_service_and_old_runs(
        sfn_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowlib.metadata.liveness import run_liveness
    from flowlib.remote.stepfunctions.liveness import EXECUTION_ARN_TAG, execution_arn, forget

    forget()
    tag = EXECUTION_ARN_TAG + execution_arn(ARN, "Flow-7")
    gone = run_liveness(record(time.time() - 3600, tag))
    assert gone.status == "crashed" and gone.ended
    assert gone.reason == ("its Step Functions execution Flow-7 does not exist: it never "
                           "started, or its state machine was deleted")
    # Just allocated: StartExecution may not have answered yet.
    assert run_liveness(record(time.time(), tag.replace("Flow-7", "Flow-8"))).status == "running"
    # Deployed before runs recorded their execution ARN: running, as before.
    assert run_liveness(record(time.time() - 3600)).status == "running"

    forget()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    unknown = run_liveness(record(time.time() - 3600, tag.replace("Flow-7", "Flow-9")))
    assert unknown.status == "running" and not unknown.ended
    assert unknown.reason.startswith("Step Functions could not be asked about execution Flow-9")
    forget()


def test_local_runs_keep_the_heartbeat_rule() -> None:
    from flowlib.metadata.liveness import run_liveness

    local = RunRecord("Flow", "3", "alice", "running", time.time() - 3600, None,
                      time.time() - 3600, ["runtime:flowlib"], [])
    verdict = run_liveness(local)
    assert verdict.status == "crashed" and not verdict.ended
    assert verdict.reason.startswith("its runtime stopped sending heartbeats; last seen ")


def test_kubernetes_steps_are_refused_with_every_step_named() -> None:
    from flowlib.graph import FlowGraph
    from flowlib.remote.stepfunctions.compiler import CompileError
    from flowlib.remote.stepfunctions.definition import check_no_kubernetes
    from flowlib.runtime.router import effective_decorators
    from tests.remote.stepfunctions.test_sfn_compile import load_flow

    flow_cls = load_flow(REPO / "tests" / "flows" / "remote" / "mixed_batch_k8s_flow.py")
    graph = FlowGraph(flow_cls)
    with pytest.raises(CompileError) as caught:
        check_no_kubernetes(graph, effective_decorators(graph, []))
    message = str(caught.value)
    k8s = [n.name for n in graph if any(d.name == "kubernetes" for d in n.decorators)]
    assert k8s and all(f"step '{name}' has @kubernetes (line " in message for name in k8s)
    assert "eks:runJob.sync are not supported" in message
    assert "Use @batch" in message and "'--with kubernetes'" in message


def test_start_state_passes_the_execution_arn(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """A scheduled or event-started run is allocated by its start task, which records the
    execution ARN it is given (``$$.Execution.Id``) for the run's liveness."""
    from flowlib.remote.stepfunctions.entry import ENV_EXECUTION_ARN
    from flowlib.stores import reset_stores
    from tests.remote.stepfunctions.test_sfn_compile import compile_file

    for key, value in {"FLOWLIB_CONFIG": "env", "FLOWLIB_DATASTORE_ROOT": str(tmp_path),
                       "FLOWLIB_BATCH_JOB_QUEUE": "queue", "FLOWLIB_IMAGE": "image:1"}.items():
        monkeypatch.setenv(key, value)
    reset_stores()
    try:
        definition = compile_file(REPO / "tests" / "flows" / "linear_flow.py")
    finally:
        reset_stores()
    env = definition["States"]["start"]["Parameters"]["ContainerOverrides"]["Environment"]
    assert {"Name": ENV_EXECUTION_ARN, "Value.$": "$$.Execution.Id"} in env
