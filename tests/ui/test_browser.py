"""The web UI in headless chromium, against a local store and against S3 + DynamoDB (moto).

What a user does: open the runs page, open a run and read its graph, get to a failed task's
logs in two clicks, look at a card inside its sandboxed iframe, and follow a running run's
graph as it finishes. User text that looks like HTML stays text.
"""

from __future__ import annotations

import pytest

from tests.flows.ui_flow import XSS
from tests.ui.conftest import artifacts_dir


@pytest.fixture(scope="module", params=["local", "aws"])
def site(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"{request.param}_ui")


def shot(page, site, name: str) -> None:
    page.screenshot(path=str(artifacts_dir() / f"{site.name}-{name}.png"), full_page=True)


def no_script_ran(page) -> None:
    assert page.evaluate("() => window.__xss === undefined"), "user text ran as a script"
    assert not page.errors, page.errors


def test_runs_page_lists_runs_and_shows_tags_as_text(page, site):
    page.goto(f"{site.url}/flows/UiFlow")
    rows = page.locator("#runs tbody tr")
    assert rows.count() == len(site.runs)
    failed = page.locator(f'#runs tr[data-run="{site.runs["failed"]}"] .ui-badge')
    assert failed.inner_text() == "failed"
    tag = page.locator(f'#runs tr[data-run="{site.runs["wide"]}"] .ui-tag',
                       has_text="window.__xss=2")
    assert tag.inner_text() == "<script>window.__xss=2</script>"
    shot(page, site, "runs")
    page.select_option("select[name=status]", "failed")
    page.click("button[type=submit]")
    page.wait_for_url("**status=failed**")
    assert page.locator("#runs tbody tr").count() == 1
    no_script_ran(page)


def test_graph_statuses_and_failed_logs_in_two_clicks(page, site):
    failed = site.runs["failed"]
    page.goto(f"{site.url}/flows/UiFlow")
    page.click(f'#runs tr[data-run="{failed}"] a')  # click 1: the run
    page.wait_for_url(f"**/runs/UiFlow/{failed}")
    graph = {name: page.locator(f'.fl-graph .fl-step[data-step="{name}"]')
             .get_attribute("data-status") for name in ("start", "work", "join", "report", "end")}
    assert graph == {"start": "succeeded", "work": "succeeded", "join": "succeeded",
                     "report": "failed", "end": "not-started"}
    shot(page, site, "failed-run")
    page.click('.fl-graph .fl-step[data-step="report"] a')  # click 2: the failed step's task
    page.wait_for_url("**/report/*")
    stderr = page.locator("#log-stderr").inner_text()
    assert "RuntimeError: report failed on purpose" in stderr and XSS in stderr
    assert "about to fail" in page.locator("#log-stdout").inner_text()
    assert "report failed on purpose" in page.locator("#error").inner_text()
    no_script_ran(page)


def test_artifact_name_and_log_line_stay_text(page, site):
    page.goto(f"{site.url}/runs/UiFlow/{site.runs['wide']}/start/1")
    assert page.locator(".ui-artifact-name", has_text="onerror").inner_text() == XSS
    assert f"log line {XSS}" in page.locator("#log-stdout").inner_text()
    assert page.locator("img[onerror]").count() == 0
    no_script_ran(page)


def test_card_renders_inside_its_sandboxed_iframe(page, site):
    run = site.runs["wide"]
    page.goto(f"{site.url}/runs/UiFlow/{run}")
    page.click('.fl-graph .fl-step[data-step="report"] a')
    frame_element = page.locator("iframe.ui-card-frame")
    assert frame_element.get_attribute("sandbox") == "allow-scripts"
    frame = page.frame_locator("iframe.ui-card-frame")
    assert "The total is" in frame.locator("main").inner_text(timeout=30_000)
    assert frame.locator(".fl-progress-fill").get_attribute("style") == "width: 70.0%"
    shot(page, site, "card")
    no_script_ran(page)


def test_foreach_of_many_tasks_and_a_task_page(page, site):
    run = site.runs["wide"]
    page.goto(f"{site.url}/runs/UiFlow/{run}")
    width = 100 if site.name == "local" else 3
    row = page.locator('#steps tr[data-step="work"]')
    assert row.locator(".step-tasks").inner_text().startswith(str(width))
    shot(page, site, "run")
    page.click('.fl-graph .fl-step[data-step="work"] a')
    assert page.locator("#tasks tbody tr").count() == width
    page.locator("#tasks tbody tr a").first.click()
    page.wait_for_url("**/work/*")
    assert page.locator('#artifacts tr[data-artifact="square"]').count() == 1


def test_running_run_updates_live(page, local_ui):
    site = local_ui  # the running run is on the local store only (keeps the moto part short)
    run = site.runs["running"]
    page.goto(f"{site.url}/runs/UiFlow/{run}")
    report = page.locator('.fl-graph .fl-step[data-step="report"]')
    assert report.get_attribute("data-status") == "running"
    assert page.locator('.fl-graph .fl-step[data-step="end"]').get_attribute(
        "data-status") == "not-started"
    shot(page, site, "running-run")
    # The running task's output is saved every few seconds; its page polls and shows it.
    report.locator("a").click()
    page.wait_for_url("**/report/*")
    page.wait_for_function(
        "() => document.getElementById('log-stdout').textContent"
        ".includes('waiting for the signal file')", timeout=60_000)
    page.go_back()
    site.extra["signal"].write_text("go")  # let the run finish; the page follows by itself
    page.wait_for_selector('.fl-graph .fl-step[data-step="end"][data-status="succeeded"]',
                           timeout=120_000)
    assert page.locator("#run-status .ui-badge").inner_text() == "succeeded"
