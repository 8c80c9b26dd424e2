"""What a @pypi environment costs: cold and warm builds, and the added cost per task.

    python bench/environments_bench.py                      # pandas + scikit-learn, 20 tasks
    python bench/environments_bench.py --packages six=1.16.0 --tasks 10

Figures, each from fresh processes in a fresh store:

* cold build: resolve + build with an empty uv download cache (downloads from the index);
* warm build: resolve + build of the same environment in a new store, uv's cache warm;
* warm start: a run whose environment is already built (nothing resolved, nothing built);
* per task: a foreach of N tasks in the environment (standalone task command in the venv's
  interpreter) against the same foreach without one (fork fast path), divided by N; the
  ratio is env / fork per task. The issue's target: warm start adds under 0.5 s per task.

Times are wall seconds on whatever machine runs it; compare within one run, not across runs.
Metaflow's @pypi is not measured here: it needs micromamba, which this machine does not have.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FLOW = '''
from flowlib import FlowSpec, pypi, step

PACKAGES = {packages!r}


class EnvBenchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan)

    @step
    def fan(self):
        self.items = list(range({tasks}))
        self.next(self.work, foreach="items")

    @pypi(packages=PACKAGES, disabled={disabled})
    @step
    def work(self):
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvBenchFlow()
'''


def _run(folder: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, str(folder / "flow.py"), "run", "--quiet"], cwd=folder,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _flow(folder: Path, packages: dict[str, str], tasks: int, disabled: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = FLOW.format(packages=packages, tasks=tasks, disabled=disabled)
    (folder / "flow.py").write_text(text)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", nargs="*",
                        default=["pandas=2.2.3", "scikit-learn=>=1.5"])
    parser.add_argument("--tasks", type=int, default=20)
    args = parser.parse_args()
    packages = dict(p.split("=", 1) for p in args.packages)
    with tempfile.TemporaryDirectory(prefix="flowlib-env-bench-") as tmp:
        base = Path(tmp)
        env = {**os.environ, "FLOWLIB_CONFIG": "env", "PYTHONPATH": str(REPO),
               "UV_CACHE_DIR": str(base / "uv-cache")}
        env.pop("FLOWLIB_ENVIRONMENTS_DIR", None)

        def store(name: str) -> dict[str, str]:
            return {**env, "FLOWLIB_DATASTORE_ROOT": str(base / name)}

        with_env = _flow(base / "env", packages, args.tasks, False)
        plain = _flow(base / "plain", packages, args.tasks, True)
        cold = _run(with_env, store("cold"))
        warm_build = _run(with_env, store("warm"))
        warm_start = _run(with_env, store("warm"))
        fork = _run(plain, store("plain"))
        print(f"packages: {packages}, {args.tasks} tasks, load {os.getloadavg()[0]:.2f}")
        print(f"cold run (resolve + build, empty uv cache): {cold:.2f} s")
        print(f"warm build (resolve + build, uv cache warm): {warm_build:.2f} s")
        print(f"warm start (environment built):             {warm_start:.2f} s")
        print(f"same flow without the environment (fork):   {fork:.2f} s")
        print(f"added per task by the environment: {(warm_start - fork) / args.tasks:.3f} s "
              f"(whole run {warm_start / fork:.1f}x the forked one)")


if __name__ == "__main__":
    main()
