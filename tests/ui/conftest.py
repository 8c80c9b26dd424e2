"""The web UI against real stores, in a real browser.

* ``ui_server(stores)``: the Starlette app served by uvicorn in a thread of this process, on a
  socket bound to 127.0.0.1 (port chosen by the OS).
* ``browser`` (session): Debian's chromium driven by playwright's Python package through
  ``executable_path`` (playwright's own browser download cannot work on this machine).
* ``local_ui`` (module): a local store with a run of a foreach of 100, a failed run and a run
  left running (its ``report`` step waits for a file until the session ends).
* ``aws_ui`` (module): the same flow on S3 + DynamoDB in the moto server (a succeeded run and a
  failed one).

Screenshots go to ``test-artifacts/ui/`` at the repository root (or $FLOWLIB_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_env import patched_environ
from tests.support.backends import FLOWS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLOW = FLOWS / "ui_flow.py"


def artifacts_dir() -> Path:
    path = Path(os.environ.get("FLOWLIB_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "ui"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class UiSite:
    """A served UI and what its store holds."""

    url: str
    name: str
    runs: dict[str, str] = field(default_factory=dict)  # role -> run id
    server: Any = None
    thread: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(stores: Any) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    from flowlib.ui.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(stores), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline, "the UI server did not start"
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def run_flow(env: dict[str, str], cwd: Path, *args: str, expect: int = 0) -> str:
    proc = subprocess.run([sys.executable, str(FLOW), "run", *args], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    marker = "Run UiFlow/"
    text = proc.stdout + proc.stderr
    return text[text.index(marker) + len(marker):].split()[0]


def start_waiting_run(env: dict[str, str], cwd: Path, signal: Path) -> subprocess.Popen:
    """A run whose ``report`` step waits for ``signal``: it stays running meanwhile."""
    return subprocess.Popen(
        [sys.executable, str(FLOW), "run", "--wait", str(signal)], cwd=cwd,
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def wait_running(meta: Any, proc: subprocess.Popen) -> str:
    deadline = time.time() + 180
    while time.time() < deadline:
        assert proc.poll() is None, "the waiting run ended early"
        for run in meta.list_runs_page("UiFlow", None, None, 10).runs:
            if run.status == "running" and any(
                t.status == "running" for t in meta.list_tasks("UiFlow", run.run_id, "report")
            ):
                return run.run_id
        time.sleep(0.2)
    raise AssertionError("the waiting run never reached its report step")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (bash .ci/install-infra-tools.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()


@pytest.fixture(scope="module")
def local_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiSite]:
    from flowlib.config import effective_profile
    from flowlib.stores import stores_for

    work = tmp_path_factory.mktemp("ui-local")
    env = {"FLOWLIB_DATASTORE_ROOT": str(work / "store"), "FLOWLIB_CONFIG": "env",
           "FLOWLIB_LAUNCHER": "fork"}
    site = UiSite("", "local")
    site.runs["wide"] = run_flow(env, work, "--width", "100", "--tag",
                                 "<script>window.__xss=2</script>")
    site.runs["failed"] = run_flow(env, work, "--fail", "true", expect=1)
    signal = work / "go"
    waiting = start_waiting_run(env, work, signal)
    try:
        with patched_environ(env):
            stores = stores_for(effective_profile())
        site.runs["running"] = wait_running(stores.metadata, waiting)
        site.url, site.server, site.thread = serve(stores)
        site.extra.update(signal=signal, process=waiting)
        yield site
    finally:
        signal.write_text("go")
        try:
            waiting.wait(timeout=120)
        except subprocess.TimeoutExpired:
            waiting.kill()
        if site.server is not None:
            site.stop()


@pytest.fixture(scope="module")
def aws_ui(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[UiSite]:
    pytest.importorskip("moto.server")
    from flowlib.config import effective_profile
    from flowlib.stores import stores_for
    from tests.support.moto_server import write_config

    stack = request.getfixturevalue("moto_stack")
    work = tmp_path_factory.mktemp("ui-aws")
    table = stack.create_table()
    config = write_config(work / "flowlib-config.json",
                          {"aws-ui": stack.profile(table, f"ui/{uuid.uuid4().hex[:8]}")})
    env = {**stack.env, "FLOWLIB_CONFIG": str(config), "FLOWLIB_PROFILE": "aws-ui",
           "FLOWLIB_LAUNCHER": "fork"}
    site = UiSite("", "aws")
    site.runs["wide"] = run_flow(env, work, "--width", "3", "--tag",
                                 "<script>window.__xss=2</script>")
    site.runs["failed"] = run_flow(env, work, "--fail", "true", expect=1)
    with patched_environ(env):
        stores = stores_for(effective_profile())
    # boto3 in the server's threads reads the endpoint and credentials from the environment.
    saved = {k: os.environ.get(k) for k in stack.env}
    os.environ.update(stack.env)
    try:
        site.url, site.server, site.thread = serve(stores)
        yield site
    finally:
        site.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        stack.delete_table(table)
