"""The benchmark scenarios. Each returns plain numbers per library; run.py turns them into rows.

All flows run as ``python <flow>.py run`` in a fresh working directory per library and scenario,
flowlib with this interpreter, Metaflow with the bench venv's, local mode for both.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import store
from flows import FLOW_NAMES, write_flow
from harness import Lib, Measured, fresh_dir, remove, run_flow, run_measured

MAX_SPLITS = ["--max-num-splits", "5000"]


def _median(samples: list[Measured]) -> dict[str, float]:
    return {
        "wall": statistics.median(m.wall for m in samples),
        "cpu": statistics.median(m.cpu for m in samples),
        "maxrss": max(m.maxrss for m in samples),
        "walls": [round(m.wall, 4) for m in samples],
    }


def warm_up(lib: Lib, base: Path) -> None:
    """Run the flows and the client once, small, to fill the bytecode and page caches."""
    workdir = fresh_dir(base, f"warmup-{lib.name}")
    try:
        run_flow(lib, write_flow("artifact", lib.name, workdir), ["--size", "1"], workdir)
        run_flow(lib, write_flow("foreach", lib.name, workdir), ["--n", "2"], workdir)
        run_flow(lib, write_flow("store", lib.name, workdir), [], workdir)
        _probe_once(lib, FLOW_NAMES["store"], workdir, 1)
    finally:
        remove(workdir)


# -- linear4 ---------------------------------------------------------------------------------
def linear4(lib: Lib, base: Path, repeat: int) -> dict[str, Any]:
    """Whole process ``python flow.py run`` of a 4-step flow, import included; one warm-up."""
    workdir = fresh_dir(base, f"linear4-{lib.name}")
    flow = write_flow("linear", lib.name, workdir)
    run_flow(lib, flow, [], workdir)
    result = _median([run_flow(lib, flow, [], workdir) for _ in range(repeat)])
    remove(workdir)
    return result


# -- foreach ---------------------------------------------------------------------------------
def foreach(lib: Lib, base: Path, n: int, repeat: int) -> dict[str, Any]:
    """start -> foreach over n items -> join -> end; a fresh store for every run."""
    samples = []
    for _ in range(repeat):
        workdir = fresh_dir(base, f"foreach{n}-{lib.name}")
        flow = write_flow("foreach", lib.name, workdir)
        samples.append(run_flow(lib, flow, ["--n", str(n), *MAX_SPLITS], workdir))
        remove(workdir)
    return _median(samples)


def slope(
    small: dict[str, Any], large: dict[str, Any], n_small: int, n_large: int, key: str
) -> float:
    """Seconds per extra task between two foreach sizes."""
    return (large[key] - small[key]) / (n_large - n_small)


# -- artifact --------------------------------------------------------------------------------
# The save of self.arr happens after start() returns, outside any code the flow controls, so it
# is measured as the gap between two timestamps the steps write: "assigned" (end of start's
# body) and "load_begin" (start of the next step's body). That gap also holds the library's
# fixed cost between two tasks (persisting the other artifacts, bookkeeping, launching the next
# task: a fresh interpreter and import for Metaflow). The same flow run with a 1-byte array
# measures that fixed cost, and save = gap(1 GiB) - gap(1 byte). The load is timed inside the
# load step: from "load_begin" to after the first touch of the array (both libraries load
# artifacts lazily, on first attribute access). Peak RSS is that of the whole run's process tree.
#
# Every repetition uses a fresh store and a fresh random array: both stores are
# content-addressed and would skip writing a blob they already hold. Before every measured run
# (and the numpy reference) dirty pages are flushed with sync() and PREFAULT_GIB of memory is
# touched and freed: on this VM the first touch of guest memory costs ~1.7 s/GiB (the host backs
# it lazily, and takes freed memory back after a while), which otherwise lands on whichever
# run happens to allocate new memory first and swamps the numbers.
PREFAULT_GIB = 6


def artifact(lib: Lib, base: Path, size: int, repeat: int) -> dict[str, Any]:
    reps = [_artifact_rep(lib, base, size) for _ in range(repeat)]
    keys = ("save", "load", "save_load", "gap_baseline", "gap", "wall", "cpu")
    result: dict[str, Any] = {k: statistics.median(r[k] for r in reps) for k in keys}
    result["maxrss"] = max(r["maxrss"] for r in reps)
    result["reps"] = reps
    return result


def _artifact_rep(lib: Lib, base: Path, size: int) -> dict[str, float]:
    workdir = fresh_dir(base, f"artifact-{lib.name}")
    flow = write_flow("artifact", lib.name, workdir)
    try:
        baseline = _artifact_run(lib, flow, workdir, 1)
        full = _artifact_run(lib, flow, workdir, size)
    finally:
        remove(workdir)
    save = full["gap"] - baseline["gap"]
    return {
        "save": save,
        "load": full["load"],
        "save_load": save + full["load"],
        "gap_baseline": baseline["gap"],
        "gap": full["gap"],
        "wall": full["wall"],
        "cpu": full["cpu"],
        "maxrss": full["maxrss"],
    }


def settle_memory(gib: int = PREFAULT_GIB) -> None:
    """Flush dirty pages and make sure ``gib`` GiB of guest memory is backed by the host."""
    os.sync()
    code = f"import numpy as np; np.ones({gib} << 30, dtype=np.uint8)"
    subprocess.run([sys.executable, "-c", code], check=True)
    os.sync()


def _artifact_run(lib: Lib, flow: Path, workdir: Path, size: int) -> dict[str, float]:
    stamps = workdir / "timestamps.txt"
    stamps.unlink(missing_ok=True)
    if size > 1:
        settle_memory()
    measured = run_flow(lib, flow, ["--size", str(size)], workdir)
    marks = dict(line.split() for line in stamps.read_text().splitlines())
    t = {k: float(v) for k, v in marks.items()}
    return {
        "gap": t["load_begin"] - t["assigned"],
        "load": t["loaded"] - t["load_begin"],
        "wall": measured.wall,
        "cpu": measured.cpu,
        "maxrss": float(measured.maxrss),
    }


NUMPY_REFERENCE = """
import json, os, sys, time
import numpy as np
size, path = int(sys.argv[1]), sys.argv[2]
arr = np.random.default_rng().integers(0, 256, size, dtype=np.uint8)
t0 = time.time()
np.save(path, arr)  # no fsync, like flowlib's store
t1 = time.time()
loaded = np.load(path)
checksum = int(loaded[::4096].sum())
t2 = time.time()
os.unlink(path)
print(json.dumps({"save": t1 - t0, "load": t2 - t1, "checksum": checksum}))
"""


def numpy_reference(base: Path, size: int, repeat: int) -> dict[str, Any]:
    """``np.save`` + ``np.load`` of the same kind of array where the stores write (median)."""
    reps = []
    for _ in range(repeat):
        workdir = fresh_dir(base, "numpy-reference")
        try:
            settle_memory()
            out = subprocess.run(
                [sys.executable, "-c", NUMPY_REFERENCE, str(size), str(workdir / "arr.npy")],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            remove(workdir)
        rep = json.loads(out.stdout)
        rep["save_load"] = rep["save"] + rep["load"]
        reps.append(rep)
    result: dict[str, Any] = {
        k: statistics.median(r[k] for r in reps) for k in ("save", "load", "save_load")
    }
    result["reps"] = reps
    return result


# -- latest_run ------------------------------------------------------------------------------
CLIENT_PROBE = """
import json, statistics, sys, time
t0 = time.perf_counter()
from {lib} import Flow
t1 = time.perf_counter()
run = Flow(sys.argv[1]).latest_run
t2 = time.perf_counter()
value = run.data.value
t3 = time.perf_counter()
assert value == 42, value
samples = []
for _ in range(int(sys.argv[2])):
    s = time.perf_counter()
    value = Flow(sys.argv[1]).latest_run.data.value
    samples.append(time.perf_counter() - s)
print(json.dumps({{"import": t1 - t0, "latest_run": t2 - t1, "artifact": t3 - t2,
                  "repeat_median": statistics.median(samples) if samples else None,
                  "repeat_samples": samples}}))
"""


def latest_run(lib: Lib, base: Path, total: int, real_metaflow: int, probes: int) -> dict[str, Any]:
    """Store ``total`` runs, then time import + latest_run + one artifact in fresh processes."""
    workdir = fresh_dir(base, f"store-{lib.name}")
    flow = write_flow("store", lib.name, workdir)
    name = FLOW_NAMES["store"]
    try:
        if lib.name == "flowlib":
            store.populate_flowlib(lib, flow, workdir, total)
            newest = None
        else:
            newest = store.populate_metaflow(lib, flow, name, workdir, total, real_metaflow)
        store.verify(lib, name, workdir, total, newest)
        return _probe_client(lib, name, workdir, probes)
    finally:
        store.remove_store(workdir)


def _probe_client(lib: Lib, name: str, workdir: Path, probes: int) -> dict[str, Any]:
    """Median over ``probes`` fresh processes (calls made once), then one process that repeats
    the calls 50 times after import for the in-process median."""
    results = [_probe_once(lib, name, workdir, 0) for _ in range(probes + 1)][1:]  # 1st: warm-up
    keys = ("import", "latest_run", "artifact", "process_wall")
    summary = {k: statistics.median(r[k] for r in results) for k in keys}
    summary["first_call"] = statistics.median(r["latest_run"] + r["artifact"] for r in results)
    repeated = _probe_once(lib, name, workdir, 50)
    summary["repeat_median"] = repeated["repeat_median"]
    summary["repeat_samples"] = repeated["repeat_samples"]
    return summary


def _probe_once(lib: Lib, name: str, workdir: Path, repeats: int) -> dict[str, Any]:
    log = workdir / "probe.json"
    log.unlink(missing_ok=True)
    measured = run_measured(
        [lib.python, "-c", CLIENT_PROBE.format(lib=lib.name), name, str(repeats)],
        workdir,
        lib.environ(workdir),
        log,
    )
    if measured.returncode != 0:
        raise RuntimeError(f"{lib.name} client probe failed:\n{log.read_text()[-2000:]}")
    data = json.loads(log.read_text().strip().splitlines()[-1])
    data["process_wall"] = measured.wall
    return data
