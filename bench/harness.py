"""Running the two libraries' processes and measuring them.

Each measured command is one child process reaped with ``os.wait4``: its rusage covers the
child and every descendant it waited for (Linux folds reaped grandchildren into it), so CPU
seconds and peak RSS belong to that command alone. That is ``getrusage(RUSAGE_CHILDREN)``
without the deltas, which do not work for ``ru_maxrss`` (a running maximum over all children
this bench ever reaped).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
VENV_DIR = BENCH_DIR / ".venv-metaflow"
FLOWLIB_VENV_DIR = BENCH_DIR / ".venv-flowlib"
# Compiled bytecode for both libraries goes here (see Lib.environ).
PYCACHE_DIR = BENCH_DIR / ".pycache"
METAFLOW_SPEC = "metaflow==2.19.*"


@dataclass(frozen=True)
class Lib:
    """One library under test: the module flows import and the interpreter that runs them."""

    name: str  # "flowlib" or "metaflow"
    python: str
    env: dict[str, str] = field(default_factory=dict)

    def environ(self, workdir: Path) -> dict[str, str]:
        # Installed packages normally run from cached bytecode; a PYTHONDONTWRITEBYTECODE=1 in
        # the environment (this machine sets it) would make flowlib, installed in editable mode
        # here, recompile every module in every process while Metaflow's venv has the .pyc
        # files pip wrote. Both libraries get the same private bytecode cache instead.
        env = {
            **os.environ,
            **self.env,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPYCACHEPREFIX": str(PYCACHE_DIR),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if self.name == "flowlib":
            env["FLOWLIB_DATASTORE_ROOT"] = str(workdir / ".flowlib")
        else:
            env["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = str(workdir)
        return env


@dataclass
class Measured:
    """Wall seconds, CPU seconds (user + system) and peak RSS (bytes) of one command tree."""

    wall: float
    cpu: float
    maxrss: int
    returncode: int


def flowlib_lib(python: str = sys.executable) -> Lib:
    return Lib("flowlib", python)


def ensure_flowlib_venv(venv: Path = FLOWLIB_VENV_DIR) -> str:
    """A venv like Metaflow's for flowlib: its dependencies from pyproject.toml and numpy, and a
    ``.pth`` line that puts this working tree on ``sys.path`` (the code under test, without the
    editable-install finder). Returns its python.

    Why not this interpreter: its site start-up costs ~25 ms more than a bare venv's on this
    machine (a sandbox ``.pth`` that imports certifi, the editable finder), which every flowlib
    process would pay and no Metaflow process does.
    """
    python = venv / "bin" / "python"
    pyproject = (REPO_DIR / "pyproject.toml").read_bytes()
    stamp = venv / "flowlib-deps.sha256"
    wanted = hashlib.sha256(pyproject).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return str(python)
    print(f"creating {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    deps = [*_project_dependencies(pyproject), "numpy"]
    subprocess.run([str(python), "-m", "pip", "install", "-q", *deps], check=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "flowlib-worktree.pth").write_text(f"{REPO_DIR}\n")
    stamp.write_text(wanted)
    return str(python)


def _project_dependencies(pyproject: bytes) -> list[str]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return list(tomllib.loads(pyproject.decode())["project"]["dependencies"])


def metaflow_lib(venv: Path = VENV_DIR) -> Lib:
    """Local mode only: local datastore and metadata, no conda/pypi environments."""
    env = {
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DEFAULT_ENVIRONMENT": "local",
        "USERNAME": "bench",
    }
    return Lib("metaflow", str(venv / "bin" / "python"), env)


def ensure_metaflow_venv(venv: Path = VENV_DIR) -> str:
    """Create or reuse the venv with Metaflow 2.19.x and numpy; return Metaflow's version."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = [str(python), "-c", "import metaflow, numpy; print(metaflow.__version__)"]
    found = subprocess.run(probe, capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.startswith("2.19."):
        print(f"installing {METAFLOW_SPEC} and numpy into {venv} ...", file=sys.stderr)
        pip = [str(python), "-m", "pip", "install", "-q", METAFLOW_SPEC, "numpy"]
        subprocess.run(pip, check=True)
        found = subprocess.run(probe, capture_output=True, text=True, check=True)
    return found.stdout.strip()


def run_measured(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path | None = None
) -> Measured:
    """Run ``argv`` to completion; output goes to ``log`` (appended) or is discarded."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log:
            out.close()
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, proc.returncode)


def run_flow(lib: Lib, flow: Path, args: list[str], workdir: Path) -> Measured:
    """``python flow.py run ARGS`` with ``lib``'s interpreter; fails loudly if the run fails."""
    log = workdir / "output.log"
    result = run_measured([lib.python, str(flow), "run", *args], workdir, lib.environ(workdir), log)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{lib.name}: {flow.name} run {' '.join(args)} failed:\n{tail}")
    return result


def fresh_dir(base: Path, name: str) -> Path:
    """A new, empty working directory for one scenario of one library."""
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
