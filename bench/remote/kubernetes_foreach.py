"""API requests and wall time per task of a foreach on Kubernetes, next to the local runtime.

    python bench/remote/kubernetes_foreach.py                # foreach of 100 and 1,000
    python bench/remote/kubernetes_foreach.py --sizes 100 --max-workers 16

The cluster is kmock plus the test controller (tests/support/kube_controller.py), which runs
every pod as a local process on this 2-core machine: the wall time per task is that of the
whole loop (create the Job, the watch reports the pod, stream its log, read the outcome), with
pod start-up being a local interpreter, not a node; it is no forecast of EKS. The request count
is flowlib's own (the launcher counts every HTTP request it sends: Job creates, log reads,
deletes, watch and list calls) and is what a real API server would see from the runtime.

Local figures: the same flow with the default fork launcher and with the subprocess launcher
(a fresh interpreter per task, the same standalone command a pod runs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
FLOW = REPO / "tests" / "flows" / "remote" / "k8s_foreach_flow.py"


def run_flow(n: int, env: dict[str, str], *extra: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds of the runtime process (with the local tasks it reaped;
    pods are the controller's children, not the runtime's)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, str(FLOW), "run", "--n", str(n), "--max-num-splits", "5000",
             *extra],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"run failed ({proc.returncode}):\n{err.read()[-3000:].decode()}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--output", type=Path, default=None, help="also write JSON here")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the stores here (default: a temporary folder, removed)")
    args = parser.parse_args()

    from tests.support.kube_controller import KmockCluster, KubeController

    cluster = KmockCluster().start()
    controller = KubeController(cluster).start()
    rows = []
    try:
        for n in args.sizes:
            tasks = n + 3  # start, the n branches, join, end
            with tempfile.TemporaryDirectory(dir=args.workdir) as tmp_dir:
                tmp = str(args.workdir / f"n{n}") if args.workdir else tmp_dir
                stats = Path(tmp) / "stats.json"
                k8s_env = {
                    "FLOWLIB_DATASTORE_ROOT": f"{tmp}/k8s",
                    "FLOWLIB_KUBERNETES_HOST": cluster.url,
                    "FLOWLIB_KUBERNETES_LOCAL_STORES": "1",
                    "FLOWLIB_IMAGE": "flowlib:bench",
                    "FLOWLIB_KUBERNETES_STATS": str(stats),
                }
                print(f"foreach of {n}: kubernetes ...", file=sys.stderr)
                k8s, k8s_cpu = run_flow(n, k8s_env, "--with", "kubernetes",
                               "--max-workers", str(args.max_workers))
                counted = json.loads(stats.read_text())
                print(f"foreach of {n}: local ...", file=sys.stderr)
                fork, _ = run_flow(n, {"FLOWLIB_DATASTORE_ROOT": f"{tmp}/fork"},
                                "--max-workers", str(args.max_workers))
                sub, _ = run_flow(n, {"FLOWLIB_DATASTORE_ROOT": f"{tmp}/sub",
                                   "FLOWLIB_LAUNCHER": "subprocess"},
                               "--max-workers", str(args.max_workers))
            rows.append({
                "n": n, "tasks": tasks, "jobs": counted["jobs"],
                "requests": counted["requests"],
                "requests_per_task": counted["requests"] / counted["jobs"],
                "k8s_wall_s": k8s, "k8s_ms_per_task": 1000 * k8s / tasks,
                "runtime_cpu_ms_per_task": 1000 * k8s_cpu / tasks,
                "fork_ms_per_task": 1000 * fork / tasks,
                "subprocess_ms_per_task": 1000 * sub / tasks,
            })
    finally:
        controller.stop()
        cluster.stop()
    print(f"| foreach | tasks | API requests (flowlib) | requests/task | k8s wall | k8s ms/task "
          f"| runtime CPU ms/task | local fork ms/task | local subprocess ms/task |"
          f"  (max-workers {args.max_workers})")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']} | {r['tasks']} | {r['requests']} | {r['requests_per_task']:.2f} "
              f"| {r['k8s_wall_s']:.1f} s | {r['k8s_ms_per_task']:.0f} "
              f"| {r['runtime_cpu_ms_per_task']:.1f} "
              f"| {r['fork_ms_per_task']:.1f} | {r['subprocess_ms_per_task']:.1f} |")
    if args.output:
        args.output.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
