"""What a join reads of its inputs, one at a time versus in bulk (metadata store contract:
``get_tasks`` and ``get_tasks_artifacts``): ``python bench/join_reads.py [--inputs 300]``.

A run with ``--inputs`` finished foreach tasks, each with one artifact, is written to DynamoDB
on a moto server and to SQLite. Then, as a join task does (flowlib/runtime/task.py):

* one at a time (before): ``get_artifacts`` and ``get_task`` per input, 3 requests each on
  DynamoDB (the attempts query, the artifacts query, GetItem);
* bulk (now): ``get_tasks_artifacts`` (16 inputs' queries in flight at once) and ``get_tasks``
  (BatchGetItem, 100 keys per request).

Printed: median seconds of ``--repeat`` reads, requests sent, and the ratio one-at-a-time/bulk
measured in the same run. moto answers over loopback and, unpatched, walks the whole table for
every Query; like bench/retention.py, its server loads bench/moto_patches/sitecustomize.py so a
Query reads one partition as DynamoDB does (``--moto-as-is`` leaves moto unpatched). A run is
one partition, and moto still walks all of it for a key-prefix Query that DynamoDB answers from
its sort-key index, so moto's time per request grows with the inputs: hence 300 by default.

Loopback has no network: on AWS each request also waits a round trip to DynamoDB's endpoint
(single-digit milliseconds in-region), which is what overlapping requests saves. So the
DynamoDB rows are measured twice: as moto answers, and with ``--latency-ms`` (default 5) added
to every request before it is sent, a stand-in for that round trip (the sleep releases the GIL,
as waiting on a socket does). moto's own work per request (Python, one CPU here) is not
overlapped by threads, so neither row is an AWS figure: the request counts carry over.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def fill(meta: Any, inputs: int) -> tuple[str, list[tuple[str, str]]]:
    from flowlib.datastore.artifacts import ArtifactRef
    from flowlib.metadata.records import SUCCEEDED, TaskRecord

    run_id = meta.create_run("JoinBench", "bench", ["user:bench"], []).run_id
    keys = [("work", f"1-{i}") for i in range(inputs)]
    meta.create_tasks([TaskRecord("JoinBench", run_id, step, task_id, "pending", time.time(),
                                  foreach_stack=[{"step": "start", "index": i}])
                       for i, (step, task_id) in enumerate(keys)])
    for i, (step, task_id) in enumerate(keys):
        meta.start_attempt("JoinBench", run_id, step, task_id, 0)
        meta.finish_attempt("JoinBench", run_id, step, task_id, 0, SUCCEEDED,
                            {"square": ArtifactRef(f"{i:040x}", 8, "builtins.int")},
                            {"next": ["join"]}, None)
    return run_id, keys


def bulk_fill(meta: Any, inputs: int) -> tuple[str, list[tuple[str, str]]]:
    """The items ``fill``'s calls would write to DynamoDB, written with parallel PutItems:
    moto copies the whole table for every transaction (``finish_attempt`` is one), which at
    1,000 tasks takes its memory past this machine's."""
    from flowlib.metadata.dynamodb.items import _J, _N, _S, _att_no, _run_pk
    from flowlib.metadata.records import SUCCEEDED, TaskRecord

    run_id = meta.create_run("JoinBench", "bench", ["user:bench"], []).run_id
    keys = [("work", f"1-{i}") for i in range(inputs)]
    now = time.time()
    items: list[dict[str, Any]] = []
    for i, (step, task_id) in enumerate(keys):
        task = TaskRecord("JoinBench", run_id, step, task_id, SUCCEEDED, now,
                          foreach_stack=[{"step": "start", "index": i}],
                          transition={"next": ["join"]})
        items.append(meta._task_item(task, SUCCEEDED, 1, now))
        items.append({**meta._attempt_key("JoinBench", run_id, step, task_id, 0),
                      "type": _S("attempt"), "flow": _S("JoinBench"), "run_number": _N(run_id),
                      "step": _S(step), "task_id": _S(task_id), "attempt": _N(0),
                      "status": _S(SUCCEEDED), "started": _N(now), "finished": _N(now)})
        items.append({"pk": _S(_run_pk("JoinBench", run_id)),
                      "sk": _S(f"ARTS#{step}#{task_id}#{_att_no(0)}#000"),
                      "type": _S("artifacts"),
                      "a": _J({"square": [f"{i:040x}", 8, "builtins.int", None]})})
    meta._batch_write([{"PutRequest": {"Item": item}} for item in items])
    return run_id, keys


def one_at_a_time(meta: Any, run_id: str, keys: list[tuple[str, str]]) -> list[Any]:
    return [(meta.get_artifacts("JoinBench", run_id, *key), meta.get_task("JoinBench", run_id,
                                                                          *key))
            for key in keys]


def bulk(meta: Any, run_id: str, keys: list[tuple[str, str]]) -> list[Any]:
    return list(zip(meta.get_tasks_artifacts("JoinBench", run_id, keys),
                    meta.get_tasks("JoinBench", run_id, keys), strict=True))


def measure(name: str, meta: Any, inputs: int, repeat: int, client: Any = None,
            latency_ms: float = 0.0, filled: tuple[str, list[tuple[str, str]]] | None = None
            ) -> dict[str, Any]:
    run_id, keys = filled or fill(meta, inputs)
    requests: Counter[str] = Counter()
    handlers = []
    if client is not None:
        def count(model: Any, **_: Any) -> None:
            requests.update([model.name])

        def wait(**_: Any) -> None:
            time.sleep(latency_ms / 1000)

        handlers = [("before-call.dynamodb.*", count)]
        if latency_ms:
            handlers.append(("before-send.dynamodb.*", wait))
        for event, handler in handlers:
            client.meta.events.register(event, handler)
    row: dict[str, Any] = {"store": name, "inputs": inputs, "_filled": (run_id, keys)}
    expected = one_at_a_time(meta, run_id, keys)
    for mode, read in (("one_at_a_time", one_at_a_time), ("bulk", bulk)):
        assert read(meta, run_id, keys) == expected
        seconds = []
        for _ in range(repeat):
            requests.clear()
            started = time.perf_counter()
            read(meta, run_id, keys)
            seconds.append(time.perf_counter() - started)
        row[f"{mode}_s"] = round(statistics.median(seconds), 3)
        row[f"{mode}_requests"] = dict(requests)
    row["ratio"] = round(row["one_at_a_time_s"] / row["bulk_s"], 1)
    for event, handler in handlers:
        client.meta.events.unregister(event, handler)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--moto-as-is", action="store_true")
    parser.add_argument("--latency-ms", type=float, default=5.0)
    opts = parser.parse_args()
    from flowlib.metadata.sqlite import SqliteMetadataStore
    from tests.support.aws_env import patched_environ
    from tests.support.moto_server import start_stack

    rows = [measure("SQLite", SqliteMetadataStore(Path(tempfile.mkdtemp()) / "meta.db"),
                    opts.inputs, opts.repeat)]
    saved = os.environ.get("PYTHONPATH")
    if not opts.moto_as_is:
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO / "bench" / "moto_patches"), saved) if p)
    try:
        stack = start_stack()
    finally:
        os.environ.pop("PYTHONPATH", None)
        if saved is not None:
            os.environ["PYTHONPATH"] = saved
    try:
        with patched_environ(stack.env):
            from flowlib.config import Profile
            from flowlib.config.aws import AwsContext
            from flowlib.metadata.dynamodb import DynamoDBMetadataStore

            table = stack.create_table()
            meta = DynamoDBMetadataStore(AwsContext(Profile("bench", {
                "region": stack.region, "metadata": "dynamodb", "dynamodb_table": table}, {})),
                table)
            rows.append(measure("DynamoDB (moto server)", meta, opts.inputs, opts.repeat,
                                meta.ddb, filled=bulk_fill(meta, opts.inputs)))
            rows.append(measure(f"  + {opts.latency_ms:g} ms per request", meta, opts.inputs,
                                opts.repeat, meta.ddb, opts.latency_ms, rows[-1]["_filled"]))
    finally:
        stack.server.stop()
    for row in rows:
        row.pop("_filled")
    print(json.dumps(rows, indent=2))
    print(f"\n{'store':24} {'inputs':>6} {'one at a time s':>16} {'bulk s':>8} {'ratio':>6} "
          "requests (one at a time -> bulk)")
    for r in rows:
        counts = (f"{sum(r['one_at_a_time_requests'].values())} -> "
                  f"{sum(r['bulk_requests'].values())}" if r["bulk_requests"] else "-")
        print(f"{r['store']:24} {r['inputs']:>6} {r['one_at_a_time_s']:>16} {r['bulk_s']:>8} "
              f"{r['ratio']:>5}x {counts}")


if __name__ == "__main__":
    main()
