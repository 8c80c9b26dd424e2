"""gc over many runs, locally and on a moto server: ``python bench/retention.py``.

Each run of the flow has one task with two artifacts, one shared by every run (deduplicated)
and one of its own, and one log. The policy keeps the last 100 runs (and the latest successful
one), so gc removes ``runs - 100`` runs and ``2 * (runs - 100)`` blobs. gc runs in a forked
child process: its wall time per phase, its peak RSS (``os.wait4``), and for AWS its HTTP
requests (a botocore ``before-send`` hook) are reported.

Loading, kept short: locally the rows the SQLite store's calls write go in with one
transaction and the blobs through the blob store; on moto the metadata items are bulk-written
with BatchWriteItem (the exact items ``create_run``, ``create_tasks``, ``start_attempt`` and
``finish_attempt`` write) and the blobs are PUT from a thread pool. The tests check that gc
over runs written by the stores' own calls behaves the same. moto is a stand-in for AWS: its
absolute times are loopback plus moto's Python (and moto answers a Query by walking the whole
table); the request counts carry over.

Options: ``--runs N`` (local, default 10000), ``--aws-runs N`` (default 10000, 0 to skip),
``--json PATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FLOW = "GcBenchFlow"
KEEP_LAST = 100


def load_local(stores: Any, runs: int) -> None:
    """Bulk-load: the rows the SQLite store's own calls write (one transaction), and the blobs
    through the blob store."""
    import json as _json

    meta = stores.metadata
    artifacts = stores.artifacts(FLOW)
    shared = artifacts.save("shared", list(range(10_000)), "")
    now = time.time() - runs
    rows: dict[str, list] = {"runs": [], "run_tags": [], "tasks": [], "attempts": [],
                             "artifacts": []}
    for n in range(1, runs + 1):
        own = artifacts.save("own", f"run {n}", "")
        log = artifacts.put_bytes(f"log {n}\n".encode())
        t = now + n
        rows["runs"].append((FLOW, n, "bench", "succeeded", t, t, t, None))
        rows["run_tags"].append((FLOW, n, "user:bench", 1))
        rows["tasks"].append((FLOW, n, "end", "1", "succeeded", t, t, "[]", "[]", 1, None,
                              '{"next": []}'))
        rows["attempts"].append((FLOW, n, "end", "1", 0, "succeeded", t, t, None,
                                 _json.dumps({"stdout": log})))
        for name, ref in (("shared", shared), ("own", own)):
            rows["artifacts"].append((FLOW, n, "end", "1", 0, name, ref.key, ref.size, ref.type,
                                      ref.encoding))
    meta._write([(f"INSERT INTO {table} VALUES({','.join('?' * len(values[0]))})", values)
                 for table, values in rows.items()])


def load_aws(stores: Any, runs: int) -> None:
    """Bulk-load: the items the store's own calls would write, and the blobs."""
    from flowlib.datastore import codec
    from flowlib.datastore.artifacts import ArtifactRef
    from flowlib.metadata.dynamodb.items import _J, _N, _S, _att_no, _run_pk
    from flowlib.metadata.records import SUCCEEDED, TaskRecord

    meta = stores.metadata
    blobs = stores.make_blobstore(FLOW)
    shared_enc = codec.encode(list(range(10_000)))
    shared = ArtifactRef(blobs.put(shared_enc.chunks), shared_enc.size, shared_enc.type_name,
                         shared_enc.encoding)
    payloads = {}
    items: list[dict] = [{"pk": _S("FLOWS"), "sk": _S(f"FLOW#{FLOW}"), "flow": _S(FLOW),
                          "last_run": _N(runs)}]
    now = time.time() - runs
    for n in range(1, runs + 1):
        own_bytes = pickle.dumps(f"run {n}", protocol=5)
        log_bytes = f"log {n}\n".encode()
        from flowlib.datastore.hashing import content_key

        own_key, log_key = content_key([own_bytes]), content_key([log_bytes])
        payloads[own_key], payloads[log_key] = own_bytes, log_bytes
        run_item, tag_items = meta.run_items(FLOW, n, "bench", ["user:bench"], [], None, now + n)
        run_item["status"] = _S(SUCCEEDED)
        run_item["finished"] = _N(now + n)
        task = TaskRecord(FLOW, str(n), "end", "1", SUCCEEDED, now + n, transition={"next": []})
        attempt = {
            **meta._attempt_key(FLOW, str(n), "end", "1", 0), "type": _S("attempt"),
            "flow": _S(FLOW), "run_number": _N(n), "step": _S("end"), "task_id": _S("1"),
            "attempt": _N(0), "status": _S(SUCCEEDED), "started": _N(now + n),
            "finished": _N(now + n), "logs": _J({"stdout": log_key}),
        }
        arts = {"pk": _S(_run_pk(FLOW, n)), "sk": _S(f"ARTS#end#1#{_att_no(0)}#000"),
                "type": _S("artifacts"),
                "a": _J({"shared": [shared.key, shared.size, shared.type, shared.encoding],
                         "own": [own_key, len(own_bytes), "str", "pickle5"]})}
        items += [run_item, *tag_items, meta._task_item(task, SUCCEEDED, 1, now + n), attempt,
                  arts]
    meta._batch_write([{"PutRequest": {"Item": i}} for i in items])
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: blobs.put([kv[1]], kv[0]), payloads.items()))


def measure_gc(stores: Any, count_requests: bool) -> dict[str, Any]:
    """plan + collect in a forked child; returns its figures and peak RSS."""
    from flowlib.retention import RetentionPolicy, collect, plan_gc

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        requests = {"n": 0}
        aws = getattr(stores.metadata, "aws", None)
        if count_requests and aws is not None:
            aws.forget_clients()
            aws.event_hooks.append(("before-send", lambda **_: requests.__setitem__(
                "n", requests["n"] + 1)))
        policy = RetentionPolicy(keep_last=KEEP_LAST, grace_hours=0)
        t0 = time.perf_counter()
        plan = plan_gc(stores, policy, [FLOW], now=time.time() + 1)
        t1 = time.perf_counter()
        plan_requests = requests["n"]
        report = collect(stores, plan)
        t2 = time.perf_counter()
        out = {"plan_s": t1 - t0, "collect_s": t2 - t1, "plan_requests": plan_requests,
               "requests": requests["n"], "runs_removed": len(report.runs_removed[FLOW]),
               "blobs_deleted": report.blobs_deleted}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise SystemExit(f"gc child failed with status {status}")
    result = json.loads(data)
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def bench_local(runs: int, workdir: Path) -> dict[str, Any]:
    from flowlib.config import effective_profile
    from flowlib.stores import stores_for

    os.environ.update({"FLOWLIB_CONFIG": "env",
                       "FLOWLIB_DATASTORE_ROOT": str(workdir / "local-store")})
    stores = stores_for(effective_profile())
    t0 = time.perf_counter()
    load_local(stores, runs)
    load_s = time.perf_counter() - t0
    stores.metadata.close()
    return {"store": "local (SQLite + files)", "runs": runs, "load_s": load_s,
            **measure_gc(stores, False)}


def bench_aws(runs: int, workdir: Path) -> dict[str, Any]:
    from flowlib.stores import open_stores, reset_stores
    from tests.support.aws_env import patched_environ
    from tests.support.moto_server import start_stack, write_config

    stack = start_stack()
    try:
        with patched_environ(stack.env):
            table = stack.create_table()
            config = write_config(workdir / "config.json",
                                  {"bench": stack.profile(table, "gc-bench")})
            os.environ.update({"FLOWLIB_CONFIG": str(config), "FLOWLIB_PROFILE": "bench"})
            os.environ.pop("FLOWLIB_DATASTORE_ROOT", None)
            reset_stores()
            stores = open_stores()
            t0 = time.perf_counter()
            load_aws(stores, runs)
            load_s = time.perf_counter() - t0
            return {"store": "S3 + DynamoDB (moto server)", "runs": runs, "load_s": load_s,
                    **measure_gc(stores, True)}
    finally:
        stack.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--aws-runs", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    workdir = Path(tempfile.mkdtemp(prefix="flowlib-bench-gc-"))
    rows = []
    if args.runs:
        rows.append(bench_local(args.runs, workdir))
        print(f"local done: {rows[-1]}", file=sys.stderr)
    if args.aws_runs:
        rows.append(bench_aws(args.aws_runs, workdir))
    print(f"\n### gc, keep the last {KEEP_LAST} runs\n")
    print("| store | runs | removed | blobs deleted | plan s | sweep+finalize s | "
          "requests (plan / total) | requests per removed run | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per = r["requests"] / max(r["runs_removed"], 1)
        reqs = f"{r['plan_requests']:,} / {r['requests']:,}" if r["requests"] else "-"
        print(f"| {r['store']} | {r['runs']:,} | {r['runs_removed']:,} | {r['blobs_deleted']:,} "
              f"| {r['plan_s']:.1f} | {r['collect_s']:.1f} | {reqs} | "
              f"{per:.1f} | {r['peak_rss_mib']:.0f} |" if r["requests"] else
              f"| {r['store']} | {r['runs']:,} | {r['runs_removed']:,} | {r['blobs_deleted']:,} "
              f"| {r['plan_s']:.1f} | {r['collect_s']:.1f} | - | - | "
              f"{r['peak_rss_mib']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
