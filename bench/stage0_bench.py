"""What shipping flowlib with the job adds to a task's start (flowlib/remote/stage0.py).

    python bench/stage0_bench.py [--repeat 5]

A "container" here is a Python with nothing installed (a fresh virtualenv, like
``python:3.X-slim``) running the real container command against a local datastore folder
(no S3 in the loop: the figures are stage 0's own work, not the network's). Figures, median
wall seconds of fresh processes:

* reference: an image that has flowlib and its dependencies (images/) importing flowlib's
  task entry (``python -c "import flowlib.remote.bootstrap"``);
* cold host: stage 0 with an empty host folder: code package + runtime bundle (read, SHA-256
  checked, gunzip, untar), then the same import;
* warm host: stage 0 when the runtime bundle is already unpacked on the host: code package
  only, then the same import.

The ratios are against the reference measured in the same run. On AWS add the S3 download of
the code package (a few MiB) and, on a cold host, of the runtime bundle (23 MiB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from flowlib.remote.package import upload_package
    from flowlib.remote.runtime import container_code, stage0_environment
    from flowlib.stores import open_stores, reset_stores
    from tests.support.fake_docker import plain_python

    work = Path(tempfile.mkdtemp(prefix="flowlib-stage0-bench-"))
    flow = work / "flow" / "bench_flow.py"
    flow.parent.mkdir()
    flow.write_text("from flowlib import FlowSpec\n")
    os.environ.update({"FLOWLIB_CONFIG": "env", "FLOWLIB_DATASTORE_ROOT": str(work / "store")})
    reset_stores()
    stores = open_stores()
    code = container_code(stores, "BenchFlow", upload_package(stores, "BenchFlow", flow), print)
    python = plain_python(work)
    entry = ["-c", "import flowlib.remote.bootstrap"]
    command = [python, *code.command("python:3.11-slim", entry)[1:]]
    host = work / "host"
    # The container's environment holds stage 0's code (the job definition's, on Batch).
    base = {"PATH": "/usr/bin:/bin", "FLOWLIB_ENVIRONMENTS_DIR": str(host),
            **stage0_environment()}
    reference_env = {**base, "PYTHONPATH": str(REPO)}
    reference, cold, warm = [], [], []
    for _ in range(args.repeat):
        reference.append(timed([sys.executable, *entry], reference_env, work))
        shutil.rmtree(host, ignore_errors=True)
        cold.append(timed(command, base, work))
        warm.append(timed(command, base, work))
    ref = statistics.median(reference)
    print(f"reference (image with flowlib): {ref:.3f} s")
    for name, values in (("cold host", cold), ("warm host", warm)):
        value = statistics.median(values)
        print(f"{name}: {value:.3f} s ({value / ref:.1f}x the reference, "
              f"+{value - ref:.3f} s per task)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
