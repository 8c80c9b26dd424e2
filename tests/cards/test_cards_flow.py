"""Cards written by real runs, read back through the client and the ``card`` command, on
every backend (local folder + SQLite, S3 + DynamoDB on moto)."""

from __future__ import annotations

import subprocess
import sys
import time

from flowlib import Flow, Task
from tests.support.backends import FLOWS


def test_default_and_blank_cards(backend, tmp_path):
    backend.run("card_flow.py", "run", "--alpha", "0.25")
    run = Flow("CardFlow").latest_run
    start = run["start"].task
    (default,) = start.cards
    assert default.type == "default" and default.id is None
    html = default.html
    for expected in ("Parameters", "alpha", "0.25", "Artifacts", "frame",
                     "DataFrame, 3 rows x 2 columns", "&lt;b&gt;a&lt;/b&gt;", "numbers",
                     "Timings", "Flow graph", 'data-step="report"'):
        assert expected in html, expected
    assert '<g class="fl-step st-succeeded fl-current" data-step="start"' in html

    report = run["report"].task
    cards = {c.id: c for c in report.cards}
    assert set(cards) == {"report", "other"}
    page = cards["report"].html
    assert "<h1>Results</h1>" in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "Broken failed to render" in page and "broken on purpose" in page
    assert "data:image/png;base64" in page and "vegaEmbed" in page
    assert page.index("Broken failed") < page.index("fl-vega-spec")  # the rest rendered
    assert "the other card" in cards["other"].html
    assert "zq-dropped-qz" not in page + cards["other"].html
    assert run.successful  # a broken component did not fail the task

    live = run["live"].task
    (bar,) = live.cards
    assert "width: 100.0%" in bar.html  # the final save replaced the refreshed card


def test_card_get_and_list_commands(backend, tmp_path):
    backend.run("card_flow.py", "run")
    run = Flow("CardFlow").latest_run
    out = tmp_path / "report.html"
    proc = backend.run("card_flow.py", "card", "get", f"{run.id}/report/2", "--id", "report",
                       str(out))
    assert "Saved the blank card report" in proc.stdout
    assert "<h1>Results</h1>" in out.read_text()
    listing = backend.run("card_flow.py", "card", "list", f"{run.id}/report/2").stdout
    assert "report\tblank" in listing and "other\tblank" in listing
    bad = backend.run("card_flow.py", "card", "get", f"{run.id}/report/2", "--id", "nope",
                      str(out), expect=1)
    assert "has no card with id 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    none = backend.run("card_flow.py", "card", "get", f"{run.id}/end/4", str(out), expect=1)
    assert "has no card" in none.stderr and "Add @card" in none.stderr


def test_card_view_opens_a_browser(backend, tmp_path):
    backend.run("card_flow.py", "run")
    run = Flow("CardFlow").latest_run
    # BROWSER is how Python's webbrowser module is told which program opens a page.
    opener = tmp_path / "opener.sh"
    opened = tmp_path / "opened.txt"
    opener.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    opener.chmod(0o755)
    proc = backend.run("card_flow.py", "card", "view", f"{run.id}/start/1",
                       env={"BROWSER": str(opener)})
    assert "Opened" in proc.stdout
    for _ in range(100):
        if opened.exists():
            break
        time.sleep(0.05)
    page = opened.read_text().strip().removeprefix("file://")
    assert "Flow graph" in open(page, encoding="utf-8").read()


def test_refresh_shows_the_card_while_the_task_runs(backend, tmp_path):
    signal = tmp_path / "go"
    env = {**__import__("os").environ, **backend.env, "FLOWLIB_LAUNCHER": backend.launcher}
    proc = subprocess.Popen(
        [sys.executable, str(FLOWS / "card_flow.py"), "run", "--signal", str(signal)],
        cwd=backend.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        refreshed = tmp_path / "go.refreshed"
        deadline = time.time() + 150
        while not refreshed.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.time() < deadline, "the live step never refreshed its card"
            time.sleep(0.1)
        run = Flow("CardFlow").latest_run
        task = next(iter(run["live"].tasks()))
        assert task.status == "running"
        (card,) = Task(task.pathspec).cards
        assert "width: 30.0%" in card.html and "running" in card.html
    finally:
        signal.write_text("go")
        out, _ = proc.communicate(timeout=150)
    assert proc.returncode == 0, out
    (card,) = Task(task.pathspec).cards
    assert "width: 100.0%" in card.html
