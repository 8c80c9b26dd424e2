"""Does per-task cost stay flat as a foreach grows? 100, 1,000 and 10,000 tasks.

    python bench/scale.py                       # 100, 1,000 and 10,000 tasks, 16 workers
    python bench/scale.py --sizes 100 1000 --max-workers 2 --launcher fork
    python bench/scale.py --tree /tmp/old-flowlib   # another checkout (git archive REV flowlib)
    python bench/scale.py --compare /tmp/old-flowlib  # that checkout and this one, interleaved

Each size runs ``start -> foreach over n -> join -> end`` (bench/flows.py's foreach flow) in a
fresh store and reports, per task:

* wall: the whole ``python flow.py run`` process divided by n;
* runtime CPU: user + system seconds of the runtime process itself (the scheduler: launching,
  reaping, bookkeeping; forked tasks not included), divided by n;
* task CPU: CPU of every task process (what the runtime reaped), divided by n;
* runtime peak RSS: the runtime process's own ``ru_maxrss`` (a forked task starts as a copy of
  it, so this is what every fork has to copy the page tables of).

The runtime's own figures come from ``getrusage(RUSAGE_SELF)`` read at its exit by a wrapper
that runs the flow file as ``__main__`` (``atexit``; forked tasks leave with ``os._exit`` and
do not run it). The machine's load average is printed with the figures: on a shared machine the
absolute times move with the load; the trend between sizes is what the bench is for.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flows import write_flow  # noqa: E402
from harness import REPO_DIR, flowlib_lib, remove  # noqa: E402

# Runs the flow file as __main__ and, when the runtime process exits, writes its own rusage and
# that of the children it reaped (the tasks) to the file named by argv[1].
WRAPPER = """
import atexit, json, os, resource, runpy, sys
out, flow = sys.argv[1], sys.argv[2]
pid = os.getpid()
def report():
    if os.getpid() != pid:
        return
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        json.dump({"self_cpu": me.ru_utime + me.ru_stime, "self_maxrss": me.ru_maxrss * 1024,
                   "children_cpu": kids.ru_utime + kids.ru_stime}, f)
atexit.register(report)
sys.argv = sys.argv[2:]
runpy.run_path(flow, run_name="__main__")
"""


def measure(n: int, workers: int, launcher: str, base: Path, tree: Path = REPO_DIR
            ) -> dict[str, float]:
    lib = flowlib_lib()
    workdir = Path(tempfile.mkdtemp(prefix=f"scale{n}-", dir=base))
    try:
        flow = write_flow("foreach", "flowlib", workdir)
        wrapper = workdir / "wrapper.py"
        wrapper.write_text(WRAPPER)
        report = workdir / "rusage.json"
        env = {**lib.environ(workdir), "FLOWLIB_LAUNCHER": launcher,
               "PYTHONPATH": str(tree)}
        argv = [sys.executable, str(wrapper), str(report), str(flow), "run", "--n", str(n),
                "--max-num-splits", str(max(n, 100)), "--max-workers", str(workers), "--quiet"]
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"foreach of {n} failed:\n{proc.stderr[-3000:]}")
        usage = json.loads(report.read_text())
    finally:
        remove(workdir)
    return {
        "n": n,
        "wall_s": round(wall, 2),
        "wall_ms_per_task": round(wall / n * 1000, 2),
        "runtime_cpu_ms_per_task": round(usage["self_cpu"] / n * 1000, 2),
        "task_cpu_ms_per_task": round(usage["children_cpu"] / n * 1000, 2),
        "runtime_peak_rss_mib": round(usage["self_maxrss"] / (1 << 20), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--max-workers", type=int, default=16)
    parser.add_argument("--launcher", choices=["fork", "subprocess"], default="fork")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--tree", type=Path, default=REPO_DIR,
                        help="the folder holding the flowlib package to measure")
    parser.add_argument("--compare", type=Path, default=None, metavar="OLD_TREE",
                        help="measure OLD_TREE and --tree alternately, size by size")
    args = parser.parse_args()
    trees = [("before", args.compare), ("after", args.tree)] if args.compare else [
        ("", args.tree)]
    rows = []
    for n in args.sizes:
        for label, tree in trees:
            load_before = os.getloadavg()[0]
            row = {"code": label} if label else {}
            row.update(measure(n, args.max_workers, args.launcher, args.workdir, tree))
            row["load_avg_1min"] = f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    columns = list(rows[0])
    print(f"launcher {args.launcher}, --max-workers {args.max_workers}, {os.cpu_count()} CPUs")
    print("| " + " | ".join(columns) + " |")
    print("|" + " ---: |" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
