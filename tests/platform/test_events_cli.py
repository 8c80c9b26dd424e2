"""``platform events put-command|publish``: the printed `aws events put-events` line sends
exactly the entry ``Event(name).publish`` sends, on the environment's bus, and a rule of the
kind `step-functions create` makes matches it (moto server, events seen through SQS)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

REGION = "eu-west-1"


@pytest.fixture
def profile_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A flowlib profile "dev" as `platform init` writes it (region, event bus)."""
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
           "FLOWLIB_CONFIG": str(tmp_path / "config.json")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from flowlib.config.writing import write_profile

    write_profile("dev", {"datastore": "s3", "metadata": "dynamodb", "s3_bucket": "b-dev",
                          "dynamodb_table": "t-dev", "region": REGION,
                          "event_bus_name": "flowlib-dev"})
    return env


@pytest.fixture
def moto_env(profile_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[dict[str, str]]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    try:
        yield {**profile_env, "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    finally:
        server.stop()


def _queue_on_rule(env: dict[str, str]) -> tuple[object, str]:
    import boto3

    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name="flowlib-dev")
    url = sqs.create_queue(QueueName="seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    events.put_rule(Name="dev-LoadFlow-t0", EventBusName="flowlib-dev",
                    EventPattern=json.dumps({"source": ["flowlib"],
                                             "detail-type": ["data_ready"]}))
    events.put_targets(Rule="dev-LoadFlow-t0", EventBusName="flowlib-dev",
                       Targets=[{"Id": "q", "Arn": arn}])
    return sqs, url


def _received(sqs, url: str) -> list[dict]:  # noqa: ANN001
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_put_command_sends_what_python_sends(moto_env: dict[str, str]) -> None:
    from flowlib.events import Event
    from platform_cli.main import cli

    sqs, url = _queue_on_rule(moto_env)
    payload = {"table": "orders", "note": "it's \"quoted\""}
    result = CliRunner().invoke(cli, ["events", "put-command", "dev", "data_ready",
                                      "--payload", json.dumps(payload)])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    words = shlex.split(line)
    assert words[:5] == ["aws", "events", "put-events", "--region", REGION]
    [entry] = json.loads(words[words.index("--entries") + 1])
    assert entry == Event("data_ready").entry(payload, "flowlib-dev")

    if shutil.which("aws"):  # the AWS CLI itself, as a producer would run it
        subprocess.run(["bash", "-c", line], check=True, capture_output=True,
                       env={**os.environ, **moto_env}, timeout=120)
        [event] = _received(sqs, url)
        assert (event["detail-type"], event["detail"]["payload"]) == ("data_ready", payload)

    published = CliRunner().invoke(cli, ["events", "publish", "dev", "data_ready",
                                         "--payload", '{"table": "sales"}', "-o", "json"])
    assert published.exit_code == 0, published.output
    event_id = json.loads(published.stdout)["event_id"]
    [event] = _received(sqs, url)
    assert event["id"] == event_id and event["detail"]["payload"] == {"table": "sales"}


@pytest.mark.parametrize("args,message", [
    (["dev", "data_ready", "--payload", "[1]"], "JSON object of fields"),
    (["dev", "data_ready", "--payload", "{oops"], "not JSON"),
    (["nowhere", "data_ready"], "No flowlib profile 'nowhere'"),
    (["dev", ""], "1-128 characters"),
])
def test_bad_input_is_one_line(profile_env: dict[str, str], args: list[str], message: str
                               ) -> None:
    from platform_cli.main import cli

    result = CliRunner().invoke(cli, ["events", "put-command", *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
