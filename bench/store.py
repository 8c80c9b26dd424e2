"""Filling a store with many runs of the trivial flow, for the ``latest_run`` scenario.

flowlib: every run is a real ``flow.py run``. To skip 1,000 interpreter starts, a driver imports
flowlib once and forks one child per run, which executes the flow file as ``__main__`` with
``sys.argv = [flow, "run", "--quiet"]``: the same CLI code path as the shell command. Two
drivers run side by side (2 cores).

Metaflow: 1,000 real runs at ~1.2 s each would take 20 minutes, so a few runs are real and the
rest are replicas of the oldest one. Metaflow's local metadata is a folder tree
``.metaflow/<Flow>/<run id>/...`` of small JSON files, and its client lists runs by reading every
``<run id>/_meta/_self.json`` and sorting them by its ``ts_epoch``. A replica is a copy of a real
run's folder under a new run id, with that id substituted in every file that names it (files that
don't are hard-linked) and a ``ts_epoch`` older than every real run. The artifacts are
content-addressed under ``<Flow>/data`` and shared. So the client does the same work per run as
with real runs, and ``latest_run`` must still come back as the newest real run: ``verify`` checks
that, and that the flow lists exactly the expected number of runs, with each library's own client.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from harness import Lib

FORK_DRIVER = r"""
import os, runpy, sys
import flowlib.cli  # noqa: F401 - warm the imports once, before forking

flow, count = sys.argv[1], int(sys.argv[2])
for _ in range(count):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            sys.argv = [flow, "run", "--quiet"]
            runpy.run_path(flow, run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit(f"run failed with status {status}")
"""

VERIFY = """
import json, sys
from {lib} import Flow
flow = Flow(sys.argv[1])
runs = list(flow)
latest = flow.latest_run
print(json.dumps({{"count": len(runs), "latest": str(latest.id), "value": latest.data.value}}))
"""


def populate_flowlib(lib: Lib, flow: Path, workdir: Path, total: int, drivers: int = 2) -> None:
    env = lib.environ(workdir)
    shares = [total // drivers + (1 if i < total % drivers else 0) for i in range(drivers)]
    procs = [
        subprocess.Popen(
            [lib.python, "-c", FORK_DRIVER, str(flow), str(n)],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in shares
        if n
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"flowlib populate failed: {err.decode(errors='replace')[-2000:]}")


def populate_metaflow(
    lib: Lib, flow: Path, flow_name: str, workdir: Path, total: int, real: int
) -> str:
    """``real`` real runs plus replicas up to ``total``; returns the newest real run's id."""
    env = lib.environ(workdir)
    for _ in range(real):
        subprocess.run(
            [lib.python, str(flow), "run"],
            cwd=workdir,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    flow_dir = workdir / ".metaflow" / flow_name
    runs = sorted((p for p in flow_dir.iterdir() if p.name.isdigit()), key=_run_ts)
    oldest, newest = runs[0], runs[-1]
    base_ts = _run_ts(oldest)
    for i in range(1, total - len(runs) + 1):
        _replicate_run(oldest, str(int(oldest.name) - i * 1000), base_ts - i)
    return newest.name


def _run_ts(run_dir: Path) -> int:
    return int(json.loads((run_dir / "_meta" / "_self.json").read_text())["ts_epoch"])


def _replicate_run(template: Path, new_id: str, ts_epoch: int) -> None:
    target = template.parent / new_id
    old = template.name.encode()
    for src_dir, _, files in os.walk(template):
        dst_dir = target / Path(src_dir).relative_to(template)
        dst_dir.mkdir(parents=True, exist_ok=True)
        for name in files:
            src, dst = Path(src_dir, name), dst_dir / name
            data = src.read_bytes()
            if old in data:
                dst.write_bytes(data.replace(old, new_id.encode()))
            else:
                os.link(src, dst)
    run_self = target / "_meta" / "_self.json"
    record = json.loads(run_self.read_text())
    record["ts_epoch"] = ts_epoch
    run_self.unlink()  # never write through a hard link into the template
    run_self.write_text(json.dumps(record))


def verify(lib: Lib, flow_name: str, workdir: Path, total: int, newest: str | None) -> None:
    """The store lists ``total`` runs and ``latest_run`` is the newest real one."""
    out = subprocess.run(
        [lib.python, "-c", VERIFY.format(lib=lib.name), flow_name],
        cwd=workdir,
        env=lib.environ(workdir),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{lib.name}: verifying the store failed:\n{out.stderr[-2000:]}")
    found = json.loads(out.stdout.strip().splitlines()[-1])
    problems = []
    if found["count"] != total:
        problems.append(f"lists {found['count']} runs, expected {total}")
    if newest is not None and found["latest"] != newest:
        problems.append(f"latest_run is {found['latest']}, expected {newest}")
    if found["value"] != 42:
        problems.append(f"artifact value is {found['value']!r}, expected 42")
    if problems:
        raise RuntimeError(f"{lib.name} store: " + "; ".join(problems))


def remove_store(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
