"""flowlib's AWS stores against raw boto3, on one moto server: ``python bench/aws/run.py``.

Measured in the same run against the same moto server (moto is a stand-in for AWS: absolute
figures are loopback + moto's Python, only the ratios and request counts carry over):

1. Artifact save + load of 256 MiB (incompressible bytes in a numpy array) through flowlib
   (encode, BLAKE3 key, HEAD, parallel multipart upload; ranged parallel GETs into one buffer,
   verification, decode) versus raw boto3 ``upload_fileobj`` + ``download_fileobj`` of the same
   bytes with the same SSE-KMS arguments. Target: flowlib >= 0.8 of raw. Each repetition uses a
   fresh prefix, so dedup never skips the upload.
2. ``Flow(name).latest_run`` (client API, namespace included) and listing the last 100 runs,
   with 1,000 and with 10,000 runs of the flow stored; HTTP requests counted with a botocore
   ``before-send`` hook. Target: flat. moto answers a Query by walking every item of the table
   (``moto/dynamodb/models/table.py``), so its latency grows with the table whatever the
   client does; the two raw boto3 ``Limit=1`` queries are that floor, measured alongside.
   Runs are bulk-loaded with the exact items ``create_run`` writes (BatchWriteItem), to keep
   the setup short.

Options: ``--mib N`` (default 256), ``--repeat N`` (default 3), ``--runs 1000,10000``,
``--json PATH`` to also write the figures.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from tests.support.aws_env import patched_environ  # noqa: E402
from tests.support.moto_server import start_stack, write_config  # noqa: E402

MIB = 1 << 20


def _fresh_stores(stack: Any, table: str, prefix: str, workdir: Path) -> Any:
    from flowlib.stores import open_stores, reset_stores

    config = write_config(workdir / f"config-{uuid.uuid4().hex[:6]}.json",
                          {"bench": stack.profile(table, prefix)})
    os.environ.update({"FLOWLIB_CONFIG": str(config), "FLOWLIB_PROFILE": "bench"})
    reset_stores()
    return open_stores()


class Requests:
    def __init__(self, aws: Any) -> None:
        self.count = 0
        aws.forget_clients()
        aws.event_hooks.append(("before-send", self._hook))

    def _hook(self, **kwargs: Any) -> None:
        self.count += 1

    def take(self) -> int:
        n, self.count = self.count, 0
        return n


def bench_artifact(stack: Any, table: str, workdir: Path, mib: int, repeat: int
                   ) -> dict[str, Any]:
    from flowlib.datastore.artifacts import ArtifactRef

    value = np.random.default_rng(1).integers(0, 256, size=mib * MIB, dtype=np.uint8)
    raw_bytes = memoryview(value).cast("B")
    s3 = stack.client("s3")
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": stack.kms_key_arn}
    results: dict[str, list[float]] = {"flowlib_save": [], "flowlib_load": [], "raw_up": [],
                                        "raw_down": []}
    for i in range(repeat):
        order = ["flowlib", "raw"] if i % 2 == 0 else ["raw", "flowlib"]
        for who in order:
            prefix = f"bench/{uuid.uuid4().hex[:10]}"
            if who == "flowlib":
                stores = _fresh_stores(stack, table, prefix, workdir)
                store = stores.artifacts("BenchFlow")
                t0 = time.perf_counter()
                ref = store.save("x", value, "bench")
                t1 = time.perf_counter()
                back = store.load(ArtifactRef.from_dict(ref.to_dict()), "x", "bench")
                t2 = time.perf_counter()
                assert back.nbytes == value.nbytes and back[12345] == value[12345]
                del back
                results["flowlib_save"].append(t1 - t0)
                results["flowlib_load"].append(t2 - t1)
            else:
                key = f"{prefix}/raw"
                t0 = time.perf_counter()
                s3.upload_fileobj(io.BytesIO(raw_bytes), stack.bucket, key, ExtraArgs=sse)
                t1 = time.perf_counter()
                sink = io.BytesIO()
                s3.download_fileobj(stack.bucket, key, sink)
                t2 = time.perf_counter()
                assert sink.getbuffer().nbytes == value.nbytes
                del sink
                results["raw_up"].append(t1 - t0)
                results["raw_down"].append(t2 - t1)
    med = {k: statistics.median(v) for k, v in results.items()}
    return {
        "mib": mib, "repeat": repeat, "seconds": results, "median": med,
        "ratio_save": med["raw_up"] / med["flowlib_save"],
        "ratio_load": med["raw_down"] / med["flowlib_load"],
        "ratio_total": (med["raw_up"] + med["raw_down"])
        / (med["flowlib_save"] + med["flowlib_load"]),
    }


def bulk_load_runs(meta: Any, flow: str, count: int, user: str = "bench") -> None:
    from flowlib.tags import system_tags

    tags = system_tags()
    tags = [f"user:{user}"] + [t for t in tags if not t.startswith("user:")]
    now = time.time() - count
    requests = []
    for number in range(1, count + 1):
        run_item, tag_items = meta.run_items(flow, number, user, tags, [], None, now + number)
        run_item["status"] = {"S": "succeeded"}
        run_item["finished"] = {"N": repr(now + number + 0.5)}
        requests.append({"PutRequest": {"Item": run_item}})
        requests += [{"PutRequest": {"Item": t}} for t in tag_items]
    meta._batch_write(requests)
    meta._call("put_item", TableName=meta.table, Item={
        "pk": {"S": "FLOWS"}, "sk": {"S": f"FLOW#{flow}"}, "flow": {"S": flow},
        "last_run": {"N": str(count)}})


def bench_runs(stack: Any, workdir: Path, counts: list[int], repeat: int) -> list[dict[str, Any]]:
    from flowlib import Flow, namespace

    rows = []
    for count in counts:
        table = stack.create_table()
        stores = _fresh_stores(stack, table, "bench-runs", workdir)
        meta = stores.metadata
        t0 = time.perf_counter()
        bulk_load_runs(meta, "BenchFlow", count)
        load_s = time.perf_counter() - t0
        counter = Requests(meta.aws)
        namespace("user:bench")
        measures: dict[str, list[tuple[float, int]]] = {
            "Flow(name).latest_run": [], "last 100 runs (client)": [],
            "last 100 runs (store)": [],
            "baseline: raw boto3 Query Limit=1": [],
            "baseline: raw boto3 GSI Query Limit=1": []}
        raw = stack.client("dynamodb")
        for _ in range(repeat):
            counter.take()
            t = time.perf_counter()
            latest = Flow("BenchFlow").latest_run
            measures["Flow(name).latest_run"].append((time.perf_counter() - t, counter.take()))
            assert latest.id == str(count), latest.id
            t = time.perf_counter()
            last = list(itertools.islice(Flow("BenchFlow").runs(), 100))
            measures["last 100 runs (client)"].append((time.perf_counter() - t, counter.take()))
            assert [r.id for r in last[:2]] == [str(count), str(count - 1)] and len(last) == 100
            t = time.perf_counter()
            runs = list(meta.list_runs("BenchFlow", limit=100))
            measures["last 100 runs (store)"].append((time.perf_counter() - t, counter.take()))
            assert len(runs) == 100
            t = time.perf_counter()
            raw.query(TableName=table, KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "FLOW#BenchFlow"}},
                      ScanIndexForward=False, Limit=1, ConsistentRead=True)
            measures["baseline: raw boto3 Query Limit=1"].append((time.perf_counter() - t, 1))
            t = time.perf_counter()
            raw.query(TableName=table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :p",
                      ExpressionAttributeValues={":p": {"S": "TAG#BenchFlow#user:bench"}},
                      ScanIndexForward=False, Limit=1)
            measures["baseline: raw boto3 GSI Query Limit=1"].append((time.perf_counter() - t, 1))
        for name, values in measures.items():
            rows.append({
                "runs": count, "what": name,
                "ms": statistics.median(v[0] for v in values) * 1000,
                "requests": statistics.median(v[1] for v in values),
                "setup_s": load_s,
            })
        stack.delete_table(table)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", default="1000,10000")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    counts = [int(c) for c in args.runs.split(",") if c]

    workdir = Path(tempfile.mkdtemp(prefix="flowlib-bench-aws-"))
    stack = start_stack()
    try:
        with patched_environ(stack.env):
            table = stack.create_table()
            artifact = bench_artifact(stack, table, workdir, args.mib, args.repeat)
            runs = bench_runs(stack, workdir, counts, max(args.repeat, 5))
    finally:
        stack.server.stop()

    med = artifact["median"]
    mib = artifact["mib"]
    print(f"\n### Artifact save + load, {mib} MiB, moto server (median of {args.repeat})\n")
    print("| | flowlib | raw boto3 | flowlib / raw (throughput) |")
    print("|---|---:|---:|---:|")
    print(f"| save / upload_fileobj | {med['flowlib_save']:.2f} s ({mib / med['flowlib_save']:.0f}"
          f" MiB/s) | {med['raw_up']:.2f} s ({mib / med['raw_up']:.0f} MiB/s) | "
          f"{artifact['ratio_save']:.2f} |")
    print(f"| load / download_fileobj | {med['flowlib_load']:.2f} s "
          f"({mib / med['flowlib_load']:.0f} MiB/s) | {med['raw_down']:.2f} s "
          f"({mib / med['raw_down']:.0f} MiB/s) | {artifact['ratio_load']:.2f} |")
    total_f = med["flowlib_save"] + med["flowlib_load"]
    total_r = med["raw_up"] + med["raw_down"]
    print(f"| save + load | {total_f:.2f} s | {total_r:.2f} s | "
          f"{artifact['ratio_total']:.2f} (target >= 0.8) |")
    print("\n### Runs listing, DynamoDB on the moto server (median of "
          f"{max(args.repeat, 5)})\n")
    print("| runs stored | operation | ms | HTTP requests |")
    print("|---:|---|---:|---:|")
    for row in runs:
        print(f"| {row['runs']:,} | {row['what']} | {row['ms']:.1f} | {row['requests']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"artifact": artifact, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
