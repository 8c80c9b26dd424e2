"""What the AWS Batch host cache saves (flowlib/remote/batch/jobs.py, ``batch_host_cache``).

    python bench/remote/batch_host_cache.py [--width 8] [--max-workers 4]

A foreach of ``--width`` tasks runs with ``--with batch`` on the test moto server, whose Batch
jobs the fake Docker engine runs as local processes. Each "container" is a Python with
nothing installed (the default image, ``python:3.X-slim``, played by a fresh virtualenv) and a
/tmp of its own, so stage 0 must bring flowlib's runtime bundle (23 MiB) to every job. Twice:

* ``off``: ``batch_host_cache=off``, every job downloads and unpacks the bundle;
* ``on``: the default, a host folder mounted by the job definition: the first job on the
  "instance" unpacks it, the others find it.

Printed: each task's stage 0 seconds (its own clock, ``FLOWLIB_STAGE0_SECONDS``: S3 reads
through moto, SHA-256 checks, unpacking), their median and sum per mode, the run's wall time,
and the ratios off/on measured in the same run. On AWS the download is from S3 in the region;
here it is from moto on the same machine, so the unpacking dominates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.remote.batch.conftest import start_batch_stack  # noqa: E402
from tests.support.aws_env import aws_env  # noqa: E402
from tests.support.moto_server import REGION, write_config  # noqa: E402

FLOW = REPO / "bench" / "remote" / "flows" / "stage0_foreach_flow.py"
READ = ("from flowlib import Flow; r = Flow('Stage0ForeachFlow').latest_run; import json; "
        "print(json.dumps([r['start'].task.data.stage0_seconds, *r['join'].task.data."
        "work_seconds]))")


def run_mode(stack, workdir: Path, cache: str, width: int, max_workers: int) -> dict:
    table = stack.stack.create_table()
    profile = stack.stack.profile(table, f"bench/{uuid.uuid4().hex[:8]}",
                                  batch_job_queue=stack.queue, batch_host_cache=cache)
    config = write_config(workdir / f"config-{table}.json", {"bench": profile})
    env = {**os.environ, **stack.stack.env, "FLOWLIB_CONFIG": str(config),
           "FLOWLIB_PROFILE": "bench", "FLOWLIB_BATCH_ARRAY_MIN": "0"}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(FLOW), "run", "--width", str(width),
                           "--max-workers", str(max_workers), "--with", "batch", "--quiet"],
                          cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    seconds = json.loads(subprocess.run([sys.executable, "-c", READ], env=env, cwd=workdir,
                                        capture_output=True, text=True, check=True).stdout)
    stack.stack.delete_table(table)
    return {"cache": "off" if cache == "off" else "on", "tasks": len(seconds),
            "stage0_seconds": [round(s, 3) for s in seconds],
            "median_s": round(statistics.median(seconds), 3),
            "sum_s": round(sum(seconds), 2), "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--max-workers", type=int, default=4)
    opts = parser.parse_args()
    if shutil.which("uv") is None and not (Path(sys.executable).parent / "uv").exists():
        raise SystemExit("this bench needs uv (pip install uv): the launcher builds the "
                         "runtime bundle with it")
    from flowlib.remote.runtime import default_image
    from tests.support.fake_docker import plain_python

    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"host-cache-bench-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True)
    stack = start_batch_stack(workdir / "moto.log")
    # The default image with nothing installed and no index: only stage 0 can bring flowlib.
    stack.docker.base_env = {"PATH": "/usr/bin:/bin", **aws_env(stack.stack.server.url, REGION)}
    stack.docker.image_python[default_image()] = plain_python(workdir / "image")
    stack.docker.image_env[default_image()] = {"UV_OFFLINE": "1", "PIP_NO_INDEX": "1"}
    rows = []
    try:
        for cache in ("off", stack.docker.host_cache):
            rows.append(run_mode(stack, workdir, cache, opts.width, opts.max_workers))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        stack.stack.server.stop()
        stack.docker.stop()
    off, on = rows
    print(f"\n{'cache':6} {'tasks':>5} {'median stage0 s':>16} {'sum stage0 s':>13} "
          f"{'wall s':>8}")
    for r in rows:
        print(f"{r['cache']:6} {r['tasks']:>5} {r['median_s']:>16} {r['sum_s']:>13} "
              f"{r['wall_s']:>8}")
    print(f"\noff/on: median stage 0 {off['median_s'] / on['median_s']:.1f}x, "
          f"total stage 0 {off['sum_s'] / on['sum_s']:.1f}x, "
          f"wall {off['wall_s'] / on['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
