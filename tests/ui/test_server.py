"""``flowlib ui`` without a browser: the command's errors, the host check, downloads, JSON."""

from __future__ import annotations

import io
import pickle
import socket

import pytest
from click.testing import CliRunner

from flowlib.cli.flowlib_command import main


def test_busy_port_and_bad_port_are_one_line_errors(local):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        result = CliRunner().invoke(main, ["ui", "--port", str(busy.getsockname()[1])])
    finally:
        busy.close()
    assert result.exit_code == 1
    assert "Address already in use. Choose another port with --port." in result.output
    result = CliRunner().invoke(main, ["ui", "--port", "70000"])
    assert result.exit_code == 2 and "70000 is not in the range" in result.output


@pytest.fixture
def client(backend):
    from starlette.testclient import TestClient

    from flowlib.stores import open_stores
    from flowlib.ui.app import create_app

    backend.run("ui_flow.py", "run", "--width", "2")
    return TestClient(create_app(open_stores()), base_url="http://127.0.0.1")


def test_reads_only_from_this_machine_and_downloads(client):
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert client.post("/flows/UiFlow").status_code == 405
    status = client.get("/api/runs/UiFlow/1/status").json()
    assert status["status"] == "succeeded" and status["steps"]["work"]["tasks"] == 2
    items = client.get("/runs/UiFlow/1/start/1/artifacts/items")
    assert items.headers["content-disposition"] == 'attachment; filename="items.pkl"'
    assert pickle.load(io.BytesIO(items.content)) == [0, 1]
    assert client.get("/runs/UiFlow/1/start/1/artifacts/nope").status_code == 404
    assert client.get("/api/runs/UiFlow/9/status").json()["error"].startswith("Run UiFlow/9")
    card = client.get("/runs/UiFlow/1/report/5/cards/0/0")
    assert card.status_code == 200 and "sandbox allow-scripts" in card.headers[
        "content-security-policy"]
    assert client.get("/flows/UiFlow?since=yesterday").status_code == 400
    page = client.get("/compare?a=UiFlow/1&b=UiFlow/1")
    assert page.status_code == 200 and "Two runs side by side" in page.text
