"""flowlib vs Metaflow, side by side: ``python bench/run.py [--quick] [--only NAME ...]``.

Creates or reuses the venv bench/.venv-metaflow (Metaflow 2.19.x and numpy), runs the same flows
with flowlib (this interpreter) and Metaflow (the venv's), local mode for both, prints a
markdown table of the ratios and writes everything to bench/results/<timestamp>.json.
See bench/README.md for what each scenario measures and how.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
import scenarios  # noqa: E402
from harness import (  # noqa: E402
    BENCH_DIR,
    Lib,
    ensure_flowlib_venv,
    ensure_metaflow_venv,
    flowlib_lib,
    metaflow_lib,
)
from report import GIB, Row, ceiling, speedup  # noqa: E402

SCENARIOS = ("linear4", "foreach", "artifact", "latest_run")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats; Metaflow's 1,000-task foreach is extrapolated",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SCENARIOS,
        metavar="NAME",
        help=f"run only these scenarios: {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per timing of the short flows (default 5, --quick 3)",
    )
    parser.add_argument(
        "--artifact-mib", type=int, default=1024, help="size of the artifact in MiB (default 1024)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1000,
        help="runs stored for the latest_run scenario (default 1000)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where the scenarios' stores go (default: the temp dir)",
    )
    parser.add_argument(
        "--flowlib-python",
        choices=("venv", "current"),
        default="venv",
        help="run flowlib in bench/.venv-flowlib (default; start-up like Metaflow's venv) or "
        "in the interpreter running this script",
    )
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (3 if args.quick else 5)
    args.only = args.only or list(SCENARIOS)
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def both(name: str, func: Callable[[Lib], dict[str, Any]], libs: list[Lib]) -> dict[str, Any]:
    out = {}
    for lib in libs:
        log(f"{name}: {lib.name} ...")
        start = time.perf_counter()
        out[lib.name] = func(lib)
        log(f"{name}: {lib.name} done in {time.perf_counter() - start:.1f} s")
    return out


def bench_linear4(args: argparse.Namespace, libs: list[Lib], base: Path) -> tuple[dict, list]:
    res = both("linear4", lambda lib: scenarios.linear4(lib, base, args.repeat), libs)
    fl, mf = res["flowlib"], res["metaflow"]
    rows = [
        speedup(
            "4-step linear flow, whole process",
            "s",
            fl["wall"],
            mf["wall"],
            3.0,
            f"median of {args.repeat}",
        )
    ]
    return res, rows


def bench_foreach(args: argparse.Namespace, libs: list[Lib], base: Path) -> tuple[dict, list]:
    small_repeat = 1 if args.quick else 3
    res: dict[str, dict] = {}
    for lib in libs:
        sizes = (10, 100) if args.quick and lib.name == "metaflow" else (10, 100, 1000)
        res[lib.name] = {}
        for n in sizes:
            log(f"foreach {n}: {lib.name} ...")
            repeat = small_repeat if n <= 100 else 1
            res[lib.name][n] = scenarios.foreach(lib, base, n, repeat)
            log(f"foreach {n}: {lib.name} {res[lib.name][n]['wall']:.2f} s")
    fl, mf = res["flowlib"], res["metaflow"]
    extrapolated = 1000 not in mf
    if extrapolated:
        per_task = {k: scenarios.slope(mf[10], mf[100], 10, 100, k) for k in ("wall", "cpu")}
        mf[1000] = {k: mf[100][k] + 900 * per_task[k] for k in ("wall", "cpu")}
        mf[1000]["extrapolated"] = True
    tag = "Metaflow extrapolated from 10->100" if extrapolated else ""
    rows = [
        speedup("foreach of 10 tasks, wall", "s", fl[10]["wall"], mf[10]["wall"], None),
        speedup("foreach of 100 tasks, wall", "s", fl[100]["wall"], mf[100]["wall"], None),
        ceiling("foreach of 1,000 tasks, wall", "s", fl[1000]["wall"], mf[1000]["wall"], 60.0, tag),
    ]
    for key, what in (("wall", "wall"), ("cpu", "CPU")):
        rows.append(
            speedup(
                f"per-task overhead 10->100, {what}",
                "ms/task",
                scenarios.slope(fl[10], fl[100], 10, 100, key),
                scenarios.slope(mf[10], mf[100], 10, 100, key),
                10.0,
            )
        )
        rows.append(
            speedup(
                f"per-task overhead 100->1000, {what}",
                "ms/task",
                scenarios.slope(fl[100], fl[1000], 100, 1000, key),
                scenarios.slope(mf[100], mf[1000], 100, 1000, key),
                10.0,
                tag,
            )
        )
    return res, rows


def bench_artifact(args: argparse.Namespace, libs: list[Lib], base: Path) -> tuple[dict, list]:
    size = args.artifact_mib << 20
    # flowlib and numpy runs are cheap; Metaflow's take ~40 s each.
    repeat = {"flowlib": 3, "metaflow": 1 if args.quick else 2}
    res = both("artifact", lambda lib: scenarios.artifact(lib, base, size, repeat[lib.name]), libs)
    log("artifact: numpy reference ...")
    res["numpy"] = scenarios.numpy_reference(base, size, repeat["flowlib"])
    fl, mf, ref = res["flowlib"], res["metaflow"], res["numpy"]
    label = f"{args.artifact_mib} MiB"
    rows = [
        speedup(f"{label} artifact save", "s", fl["save"], mf["save"], None),
        speedup(f"{label} artifact load + touch", "s", fl["load"], mf["load"], None),
        speedup(f"{label} artifact save + load", "s", fl["save_load"], mf["save_load"], 5.0),
        speedup(f"{label} artifact flow, whole run", "s", fl["wall"], mf["wall"], None),
        ceiling(
            f"{label} artifact flow, peak RSS",
            "GiB",
            fl["maxrss"] / GIB,
            mf["maxrss"] / GIB,
            2.5 * args.artifact_mib / 1024,
        ),
        Row(
            f"{label} save + load vs np.save + np.load",
            "s",
            fl["save_load"],
            ref["save_load"],
            ref["save_load"] / fl["save_load"],
            ">= 0.5x",
            ref["save_load"] / fl["save_load"] >= 0.5,
            "Metaflow column: np reference, no fsync on either side",
        ),
    ]
    return res, rows


def bench_latest_run(args: argparse.Namespace, libs: list[Lib], base: Path) -> tuple[dict, list]:
    real = 5 if args.quick else 20
    probes = 3 if args.quick else 5

    def one(lib: Lib) -> dict[str, Any]:
        return scenarios.latest_run(lib, base, args.runs, real, probes)

    res = both("latest_run", one, libs)
    fl, mf = res["flowlib"], res["metaflow"]
    n = f"{args.runs} runs"
    rows = [
        speedup(
            f"latest_run + 1 artifact, in-process ({n})",
            "ms",
            fl["repeat_median"],
            mf["repeat_median"],
            10.0,
            "after import, median of 50",
        ),
        speedup(
            f"latest_run + 1 artifact, first call ({n})",
            "ms",
            fl["first_call"],
            mf["first_call"],
            10.0,
            "fresh process, after import",
        ),
        speedup("client import", "ms", fl["import"], mf["import"], None),
        speedup(
            f"import + latest_run + 1 artifact, whole process ({n})",
            "ms",
            fl["process_wall"],
            mf["process_wall"],
            None,
        ),
    ]
    return res, rows


BENCHES = {
    "linear4": bench_linear4,
    "foreach": bench_foreach,
    "artifact": bench_artifact,
    "latest_run": bench_latest_run,
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    metaflow_version = ensure_metaflow_venv()
    flowlib_python = ensure_flowlib_venv() if args.flowlib_python == "venv" else sys.executable
    libs = [flowlib_lib(flowlib_python), metaflow_lib()]
    base = Path(tempfile.mkdtemp(prefix="flowlib-bench-", dir=args.workdir))
    log(f"Metaflow {metaflow_version}; stores under {base}")
    results: dict[str, Any] = {}
    rows: list[Row] = []
    load: dict[str, list[float]] = {}  # other processes on the machine skew every figure
    try:
        for lib in libs:
            log(f"warming up {lib.name} ...")
            scenarios.warm_up(lib, base)
        for name in SCENARIOS:
            if name in args.only:
                before = os.getloadavg()[0]
                results[name], new_rows = BENCHES[name](args, libs, base)
                load[name] = [round(before, 2), round(os.getloadavg()[0], 2)]
                rows += new_rows
    finally:
        shutil.rmtree(base, ignore_errors=True)
    results["load_average_1min"] = load
    print(report.markdown(rows))
    busy = {k: v for k, v in load.items() if max(v) > 1.5}
    if busy:
        print(
            f"\nWARNING: the machine was busy (1-min load average before/after: {busy}; "
            f"{os.cpu_count()} cores): the figures are skewed, rerun on a quiet machine."
        )
    out = _save(args, metaflow_version, results, rows, time.time() - started)
    log(f"results written to {out}; total {time.time() - started:.0f} s")
    return 0 if all(r.passed is not False for r in rows) else 1


def _save(
    args: argparse.Namespace, metaflow_version: str, results: dict, rows: list[Row], elapsed: float
) -> Path:
    out_dir = BENCH_DIR / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    payload = {
        "argv": sys.argv[1:],
        "quick": args.quick,
        "metaflow_version": metaflow_version,
        "flowlib_python": args.flowlib_python,
        "python": platform.python_version(),
        "machine": platform.platform(),
        "elapsed_s": elapsed,
        "rows": [r.as_dict() for r in rows],
        "raw": results,
    }
    out.write_text(json.dumps(payload, indent=2, default=str))
    return out


if __name__ == "__main__":
    sys.exit(main())
