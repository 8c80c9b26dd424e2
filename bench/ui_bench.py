"""Time to first paint of ``flowlib ui`` pages in headless chromium: ``python bench/ui_bench.py``.

For each store (the local folder + SQLite, and S3 + DynamoDB on a moto server), with 10,000
runs of a flow stored:

* the runs page of that flow, and of a flow with 10 runs (flat is the target: a page of runs is
  one bounded ``list_runs_page`` query whatever the history);
* the page of a run with 1,000 tasks (a foreach of 1,000 between ``start`` and ``join``);
* reference, measured in the same run: the UI's 404 page for a run that does not exist (same
  server, templates and stylesheets, one point read). Ratios are page / reference.

First paint is the browser's ``first-contentful-paint`` entry (navigation start to the first
text drawn), median of ``--repeat`` loads in a fresh browser context each. Runs and tasks are
written through the metadata store interface with the records the runtime writes (runs via
``create_run``, or bulk ``BatchWriteItem`` of ``run_items`` on DynamoDB as bench/aws does;
tasks via ``create_tasks``/``start_attempt``/``finish_attempt``): the UI reads only metadata, and
10,000 real runs would take hours here. moto answers a Query by walking the whole table, so its
figures grow with the table whatever the client does (see bench/aws/run.py).

Options: ``--repeat N`` (default 5), ``--runs N`` (default 10000), ``--tasks N`` (default
1000), ``--only local|aws``, ``--json PATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.aws_env import patched_environ  # noqa: E402
from tests.ui.conftest import CHROMIUM, serve  # noqa: E402

GRAPH = [{"name": "start", "next": ["work"], "type": "foreach"},
         {"name": "work", "next": ["join"], "type": "linear"},
         {"name": "join", "next": ["end"], "type": "join"},
         {"name": "end", "next": [], "type": "end"}]


def log(message: str) -> None:
    print(f"[ui-bench] {message}", file=sys.stderr, flush=True)


def load_runs(meta: Any, flow: str, count: int) -> None:
    if hasattr(meta, "run_items"):  # DynamoDB: bulk, with the items create_run writes
        sys.path.insert(0, str(REPO / "bench" / "aws"))
        from run import bulk_load_runs  # bench/aws/run.py

        bulk_load_runs(meta, flow, count)
        return
    for i in range(count):
        run = meta.create_run(flow, "bench", ["user:bench"], ["nightly"] if i % 3 else [])
        meta.update_run(flow, run.run_id, "succeeded", time.time())


def load_wide_run(meta: Any, flow: str, tasks: int) -> str:
    """A succeeded run of start -> foreach of ``tasks`` -> join -> end."""
    from flowlib.metadata.records import SUCCEEDED, TaskRecord

    run = meta.create_run(flow, "bench", ["user:bench"], [])
    rid = run.run_id
    now = time.time()

    def done(records: list[TaskRecord], transition: dict[str, Any]) -> None:
        if hasattr(meta, "_task_item"):  # DynamoDB: the same items, written in bulk
            _bulk_done(meta, records, transition, now)
            return
        meta.create_tasks(records)
        for r in records:
            meta.start_attempt(flow, rid, r.step, r.task_id, 0)
            meta.finish_attempt(flow, rid, r.step, r.task_id, 0, SUCCEEDED, {}, transition, None)

    done([TaskRecord(flow, rid, "_parameters", "0", "pending", now)],
         {"next": ["start"], "graph": GRAPH})
    done([TaskRecord(flow, rid, "start", "1", "pending", now)],
         {"next": ["work"], "foreach": "items", "num_splits": tasks})
    frame = {"step": "start", "var": "items", "index": 0, "num_splits": tasks,
             "split_task": f"{flow}/{rid}/start/1"}
    done([TaskRecord(flow, rid, "work", str(2 + i), "pending", now, [{**frame, "index": i}],
                     [f"{flow}/{rid}/start/1"]) for i in range(tasks)], {"next": ["join"]})
    done([TaskRecord(flow, rid, "join", str(2 + tasks), "pending", now)], {"next": ["end"]})
    done([TaskRecord(flow, rid, "end", str(3 + tasks), "pending", now)], {"next": []})
    meta.update_run(flow, rid, SUCCEEDED, time.time())
    return rid


def _bulk_done(meta: Any, records: list[Any], transition: dict[str, Any], now: float) -> None:
    """Succeeded tasks and their attempt items, as finish_attempt leaves them, by
    BatchWriteItem (one transaction per task against moto would take many minutes)."""
    from flowlib.metadata.dynamodb.items import _J, _N, _S

    requests = []
    for r in records:
        r.transition = transition
        requests.append({"PutRequest": {"Item": meta._task_item(r, "succeeded", 1, now + 1)}})
        attempt = {
            **meta._attempt_key(r.flow, r.run_id, r.step, r.task_id, 0), "type": _S("attempt"),
            "flow": _S(r.flow), "run_number": _N(int(r.run_id)), "step": _S(r.step),
            "task_id": _S(str(r.task_id)), "attempt": _N(0), "status": _S("succeeded"),
            "started": _N(now), "finished": _N(now + 1), "logs": _J({}),
        }
        requests.append({"PutRequest": {"Item": attempt}})
    meta._batch_write(requests)


class _RequestCounter:
    """DynamoDB requests sent (a botocore event hook, as bench/aws does); inactive locally."""

    def __init__(self, meta: Any) -> None:
        self.count = 0
        self.active = hasattr(meta, "aws")
        if self.active:
            meta.aws.forget_clients()
            meta.aws.event_hooks.append(("before-send.dynamodb", self._hook))

    def _hook(self, **kwargs: Any) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def first_paint(browser: Any, url: str, repeat: int) -> tuple[float, float]:
    """Median first-contentful-paint and load time (ms) of ``url``."""
    paints, loads = [], []
    for _ in range(repeat):
        context = browser.new_context()
        page = context.new_page()
        page.goto(url, wait_until="load", timeout=120_000)
        # The paint entry can come after the load event in headless mode: wait for it.
        paint = page.evaluate("""() => new Promise(done => {
            new PerformanceObserver(list => {
                const entry = list.getEntriesByName('first-contentful-paint')[0];
                if (entry) done(entry.startTime);
            }).observe({type: 'paint', buffered: true});
            setTimeout(() => done(null), 20000);
        })""")
        if paint is None:
            raise RuntimeError(f"{url}: the browser reported no first-contentful-paint")
        load = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n.loadEventEnd - n.startTime; }")
        paints.append(float(paint or 0))
        loads.append(float(load))
        context.close()
    return statistics.median(paints), statistics.median(loads)


def bench_store(name: str, stores: Any, browser: Any, runs: int, tasks: int, repeat: int
                ) -> list[dict[str, Any]]:
    meta = stores.metadata
    t0 = time.perf_counter()
    log(f"{name}: storing {runs:,} runs")
    load_runs(meta, "BenchFlow", runs)
    load_runs(meta, "SmallFlow", 10)
    log(f"{name}: storing a run of {tasks:,} tasks")
    wide = load_wide_run(meta, "WideFlow", tasks)
    setup_s = time.perf_counter() - t0
    url, server, thread = serve(stores)
    try:
        pages = {
            "reference: 404 page (one point read)": "/runs/NoFlow/1/nostep",
            "runs page, 10 runs stored": "/flows/SmallFlow",
            f"runs page, {runs:,} runs stored": "/flows/BenchFlow",
            f"runs page filtered (tag), {runs:,} runs": "/flows/BenchFlow?tag=user:bench",
            f"run page, {tasks:,} tasks": f"/runs/WideFlow/{wide}",
            f"step page, {tasks:,} tasks (200 shown)": f"/runs/WideFlow/{wide}/work",
        }
        first_paint(browser, url + "/", 1)  # warm the server, templates and browser
        counter = _RequestCounter(meta)
        rows = []
        reference = None
        for what, path in pages.items():
            counter.take()
            paint, load = first_paint(browser, url + path, repeat)
            requests = counter.take() / repeat
            reference = reference or paint
            rows.append({"store": name, "page": what, "first_paint_ms": paint,
                         "load_ms": load, "ratio": paint / reference, "setup_s": setup_s,
                         "store_requests": requests if counter.active else None})
            log(f"{name}: {what}: first paint {paint:.0f} ms")
        if counter.active:  # moto's own floor: one raw Query of the same table
            raw = meta.aws.client("dynamodb")
            samples = []
            for _ in range(repeat):
                t = time.perf_counter()
                raw.query(TableName=meta.table, KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "FLOW#SmallFlow"}}, Limit=1)
                samples.append((time.perf_counter() - t) * 1000)
            rows.append({"store": name, "page": "baseline: one raw boto3 Query (no page)",
                         "first_paint_ms": statistics.median(samples), "load_ms": 0.0,
                         "ratio": statistics.median(samples) / reference, "setup_s": setup_s,
                         "store_requests": 1})
        return rows
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--only", choices=["local", "aws"], default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from flowlib.config import effective_profile
    from flowlib.stores import stores_for

    rows: list[dict[str, Any]] = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        if args.only in (None, "local"):
            env = {"FLOWLIB_DATASTORE_ROOT": str(Path(tmp) / "store"), "FLOWLIB_CONFIG": "env"}
            with patched_environ(env):
                stores = stores_for(effective_profile())
            rows += bench_store("local", stores, browser, args.runs, args.tasks, args.repeat)
        if args.only in (None, "aws"):
            from tests.support.moto_server import start_stack, write_config

            stack = start_stack()
            try:
                table = stack.create_table()
                config = write_config(Path(tmp) / "config.json",
                                      {"bench": stack.profile(table, f"ui/{uuid.uuid4().hex}")})
                os.environ.update({**stack.env, "FLOWLIB_CONFIG": str(config),
                                   "FLOWLIB_PROFILE": "bench"})
                stores = stores_for(effective_profile())
                rows += bench_store("moto", stores, browser, args.runs, args.tasks, args.repeat)
            finally:
                stack.server.stop()
        browser.close()
    print("| store | page | first paint (ms) | load (ms) | ratio to reference | DynamoDB "
          "requests |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        requests = "" if r.get("store_requests") is None else f"{r['store_requests']:.0f}"
        print(f"| {r['store']} | {r['page']} | {r['first_paint_ms']:.0f} | {r['load_ms']:.0f} "
              f"| {r['ratio']:.2f} | {requests} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
