"""AWS Batch per-task cost, against the test moto server (moto + the fake Docker engine).

For a foreach of N: wall time and Batch/CloudWatch API requests per task, with array jobs and
with single submissions, next to the local runtime's per-task time on the same stores (S3 +
DynamoDB on the same moto server). Every Batch task really runs (a Python process per task on
this machine), so on 2 cores the figures are dominated by process start-up; compare the rows
with each other, not with real AWS.

    python bench/remote/batch_foreach.py --sizes 100 1000 --max-workers 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.remote.batch.conftest import IMAGE, start_batch_stack  # noqa: E402
from tests.support.moto_server import write_config  # noqa: E402

FLOW = REPO / "tests" / "flows" / "remote" / "batch_foreach_flow.py"


def run(env: dict[str, str], workdir: Path, width: int, max_workers: int, batch: bool
        ) -> tuple[float, dict]:
    stats = workdir / f"stats-{uuid.uuid4().hex[:6]}.json"
    args = [sys.executable, str(FLOW), "run", "--width", str(width),
            "--max-workers", str(max_workers), "--quiet"]
    if batch:
        args += ["--with", "batch"]
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, **env, "FLOWLIB_BATCH_STATS": str(stats)})
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, json.loads(stats.read_text()) if stats.exists() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100])
    parser.add_argument("--max-workers", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "batch.json")
    opts = parser.parse_args()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"batch-bench-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True)
    stack = start_batch_stack(workdir / "moto.log")
    rows = []
    try:
        for size in opts.sizes:
            for mode in ("local", "batch-array", "batch-single"):
                table = stack.stack.create_table()
                profile = stack.stack.profile(table, f"bench/{uuid.uuid4().hex[:8]}",
                                              batch_job_queue=stack.queue, image=IMAGE,
                                              batch_host_cache=stack.docker.host_cache)
                config = write_config(workdir / f"config-{table}.json", {"bench": profile})
                env = {**stack.stack.env, "FLOWLIB_CONFIG": str(config),
                       "FLOWLIB_PROFILE": "bench", "FLOWLIB_LAUNCHER": "subprocess",
                       "FLOWLIB_BATCH_ARRAY_MIN": "0" if mode == "batch-single" else "10"}
                if mode == "local":
                    env["FLOWLIB_LAUNCHER"] = "fork"
                wall, stats = run(env, workdir, size, opts.max_workers, mode != "local")
                tasks = size + 3
                requests = sum(stats.get("requests", {}).values())
                row = {"size": size, "mode": mode, "tasks": tasks, "wall_s": round(wall, 2),
                       "wall_per_task_ms": round(1000 * wall / tasks, 1),
                       "batch_api_requests": requests,
                       "requests_per_task": round(requests / tasks, 2),
                       "by_operation": stats.get("requests", {}),
                       "array_jobs": stats.get("array_jobs", 0)}
                rows.append(row)
                print(json.dumps(row), flush=True)
                stack.stack.delete_table(table)
    finally:
        stack.stack.server.stop()
        stack.docker.stop()
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(rows, indent=2))
    print(f"\n{'size':>5} {'mode':13} {'wall s':>8} {'ms/task':>8} {'req':>6} {'req/task':>8}")
    for r in rows:
        print(f"{r['size']:>5} {r['mode']:13} {r['wall_s']:>8} {r['wall_per_task_ms']:>8} "
              f"{r['batch_api_requests']:>6} {r['requests_per_task']:>8}")


if __name__ == "__main__":
    main()
