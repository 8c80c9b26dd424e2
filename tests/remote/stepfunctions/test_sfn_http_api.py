"""The HTTP endpoint's Lambda handler (``flowlib.http_api.handler``), called in-process with
API Gateway payload-2.0 events, against the Step Functions test bed (moto): a POST starts a
real execution of a deployed flow (its Batch jobs run as local processes) whose run the GET
follows to ``succeeded``; bad requests get one JSON message with the right status.

What moto cannot do, and so is not exercised here: API Gateway invoking the function (moto
stores HTTP APIs, routes and integrations but serves no stage) and SigV4 checks against IAM;
terraform/modules/http_api is applied to moto in tests/terraform/test_terraform_moto_apply.py.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from tests.remote.stepfunctions.conftest import REPO
from tests.support.backends import Backend

FLOW = REPO / "tests" / "flows" / "remote" / "sfn_scheduled_flow.py"
CALLER = "arn:aws:iam::123456789012:user/alice"


def post(flow: str, body: Any, raw: bool = False, b64: bool = False) -> dict[str, Any]:
    text = body if raw else json.dumps(body)
    if b64:
        text = base64.b64encode(text.encode()).decode()
    return call({"routeKey": "POST /flows/{flow}/runs", "pathParameters": {"flow": flow},
                 "body": text, "isBase64Encoded": b64})


def get(flow: str, run_id: str) -> dict[str, Any]:
    return call({"routeKey": "GET /flows/{flow}/runs/{id}",
                 "pathParameters": {"flow": flow, "id": run_id}})


def call(event: dict[str, Any]) -> dict[str, Any]:
    from flowlib.http_api.handler import handler

    event = {"version": "2.0", "rawPath": "/", "headers": {},
             "requestContext": {"authorizer": {"iam": {"userArn": CALLER}},
                                "http": {"method": event["routeKey"].split()[0]}}, **event}
    response = handler(event, None)
    assert response["headers"]["content-type"] == "application/json"
    body = json.loads(response["body"])
    if response["statusCode"] >= 400:
        assert isinstance(body["message"], str) and "Traceback" not in body["message"]
    return {"code": response["statusCode"], **body}


def test_http_starts_a_deployed_flow_and_reports_its_status(sfn_stack, sfn_backend: Backend,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:  # noqa: ANN001
    from flowlib.metadata.records import FAILED
    from flowlib.stores import open_stores

    sfn_backend.run(FLOW, "step-functions", "create", "--branch", "http", timeout=300)

    # a flow that is not deployed, a branch that is not: 404 naming what is deployed
    missing = post("NoSuchFlow", {})
    assert missing["code"] == 404 and "not deployed" in missing["message"]
    production = post("ScheduledFlow", {"parameters": {"alpha": 1}})
    assert production["code"] == 404 and "test.http" in production["message"]

    # bad input: 400, one message naming the parameter, nothing started
    wrong = post("ScheduledFlow", {"branch": "http", "parameters": {"alpha": "high"}})
    assert wrong["code"] == 400 and wrong["parameters"] == ["alpha"]
    assert "Parameter 'alpha' expects a number, got a string \"high\"" in wrong["message"]
    unknown = post("ScheduledFlow", {"branch": "http", "parameters": {"beta": 1}})
    assert unknown["code"] == 400 and unknown["parameters"] == ["beta"]
    assert "Unknown parameter 'beta'" in unknown["message"] and "alpha" in unknown["message"]
    malformed = post("ScheduledFlow", '{"parameters": {"alpha": 1', raw=True)
    assert malformed["code"] == 400 and "not valid JSON" in malformed["message"]
    not_object = post("ScheduledFlow", [1, 2])
    assert not_object["code"] == 400 and "JSON object" in not_object["message"]
    extra = post("ScheduledFlow", {"branch": "http", "params": {}})
    assert extra["code"] == 400 and "Unknown field 'params'" in extra["message"]
    stores = open_stores()
    assert list(stores.metadata.list_runs("ScheduledFlow")) == []
    sfn = sfn_stack.client("stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"].endswith("churn-test_http-ScheduledFlow"))
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []

    # a good request (base64 body, as API Gateway sends binary media): 202 and a real execution
    started = post("ScheduledFlow", {"branch": "http", "parameters": {"alpha": 3}}, b64=True)
    assert started["code"] == 202, started
    run_id = started["run_id"]
    assert started["pathspec"] == f"ScheduledFlow/{run_id}"
    assert started["status_url"] == f"/flows/ScheduledFlow/runs/{run_id}"
    assert sfn.describe_execution(executionArn=started["execution_arn"])["stateMachineArn"] \
        == machine
    assert get("ScheduledFlow", run_id)["code"] == 200

    deadline = time.time() + 300
    while (state := get("ScheduledFlow", run_id))["finished"] is False:
        assert time.time() < deadline, state
        time.sleep(1)
    assert state["code"] == 200 and state["status"] == "succeeded", state
    assert state["successful"] is True
    from flowlib import Run

    run = Run(f"ScheduledFlow/{run_id}", _record=stores.metadata.get_run("ScheduledFlow",
                                                                         run_id))
    assert state["run_id"] == run.id and state["execution"] is not None
    assert run["start"].task.data.doubled == 6.0  # the HTTP value, as a float
    assert {"trigger:http", f"http_caller:{CALLER}", "user:alice",
            "project_branch:test.http"} <= run.system_tags

    # the status is the client's: failed, and crashed (running, heartbeats stopped)
    failed = stores.metadata.create_run("ScheduledFlow", "bob", [], [])
    stores.metadata.update_run("ScheduledFlow", failed.run_id, FAILED, time.time())
    reported = get("ScheduledFlow", failed.run_id)
    assert (reported["code"], reported["status"], reported["finished"]) == (200, "failed", True)
    crashed = stores.metadata.create_run("ScheduledFlow", "bob", [], [])
    monkeypatch.setenv("FLOWLIB_HEARTBEAT_TIMEOUT", "0.001")
    time.sleep(0.01)
    reported = get("ScheduledFlow", crashed.run_id)
    assert (reported["status"], reported["finished"]) == ("crashed", False)

    missing_run = get("ScheduledFlow", "999999")
    assert missing_run["code"] == 404 and "does not exist" in missing_run["message"]

    # `step-functions delete` takes the flow off the endpoint: its runs stay readable
    sfn_backend.run(FLOW, "step-functions", "delete", "--branch", "http", "--yes", timeout=300)
    gone = post("ScheduledFlow", {"branch": "http"})
    assert gone["code"] == 404 and "not deployed" in gone["message"]
    assert get("ScheduledFlow", run_id)["status"] == "succeeded"


def test_request_values_are_checked_against_the_recorded_types() -> None:
    """inputs.check_values alone (no AWS): JSON types taken as they are, every problem named."""
    from flowlib import FlowSpec, IncludeFile, JSONType, Parameter, step
    from flowlib.remote.stepfunctions.inputs import InputError, check_values, parameter_specs

    class Typed(FlowSpec):
        count = Parameter("count", default=2)
        rate = Parameter("learning-rate", default=0.1)
        flag = Parameter("flag", default=False)
        name = Parameter("name", default="x")
        ids = Parameter("ids", type=int, default="1,2", separator=",")
        config = Parameter("config", type=JSONType, default="{}")
        data = IncludeFile("data", default="data.csv")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    specs = parameter_specs(Typed)
    assert check_values(specs, {"count": 3, "learning-rate": 1, "flag": True, "name": "y",
                                "ids": [4, 5], "config": {"a": [1]}, "data": None}) == {
        "count": 3, "rate": 1.0, "flag": True, "name": "y", "ids": [4, 5],
        "config": {"a": [1]}}
    assert check_values(specs, {"learning_rate": 0.5, "ids": "7,8"}) == {"rate": 0.5,
                                                                         "ids": [7, 8]}
    assert check_values(specs, None) == {}
    with pytest.raises(InputError) as caught:
        check_values(specs, {"count": True, "flag": "yes", "name": 3, "ids": [1, "2"],
                             "data": "local.csv", "other": 1})
    assert caught.value.names == ["count", "flag", "name", "ids", "data", "other"]
    message = str(caught.value)
    assert "Parameter 'count' expects an integer, got a boolean true." in message
    assert "Parameter 'flag' expects true or false, got a string \"yes\"." in message
    assert "IncludeFile" in message and "Unknown parameter 'other'" in message
    with pytest.raises(InputError, match="must be a JSON object"):
        check_values(specs, [1])
