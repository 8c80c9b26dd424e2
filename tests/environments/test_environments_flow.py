"""@pypi/@conda end to end on this machine: real uv resolution, real virtualenvs, real runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.environments.conftest import FLOWS


def _builds(output: str) -> int:
    return output.count("Building environment ")


def test_each_step_gets_its_version_and_a_second_run_builds_nothing(env_run) -> None:
    from flowlib import Flow

    first = env_run("two_versions_flow.py", "run")
    assert _builds(first.stdout) == 2 and first.stdout.count("Resolving environment ") == 2
    run = Flow("TwoVersionsFlow").latest_run
    start, middle, end = (run[s].task for s in ("start", "middle", "end"))
    assert start.data.start_six == "1.16.0"
    assert end.data.end_six == "1.17.0"
    # the step without an environment ran in the launching interpreter (fork fast path)
    assert middle.data.middle_prefix == sys.prefix and middle.environment is None
    assert start.data.start_prefix != end.data.end_prefix != sys.prefix

    recorded = start.environment
    assert recorded["python"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert recorded["requirements"] == ["six==1.16.0"]
    assert recorded["packages"]["six"] == "1.16.0" and "click" in recorded["packages"]
    assert end.environment["packages"]["six"] == "1.17.0"
    assert recorded["key"] != end.environment["key"]

    second = env_run("two_versions_flow.py", "run")
    assert "Resolving" not in second.stdout and _builds(second.stdout) == 0
    again = Flow("TwoVersionsFlow").latest_run
    assert again.id != run.id
    assert again["start"].task.environment["key"] == recorded["key"]
    assert again["end"].task.data.end_six == "1.17.0"

    resolved = env_run("two_versions_flow.py", "environment", "resolve", "--output", "json")
    envs = {tuple(e["steps"]): e for e in json.loads(resolved.stdout)}
    assert set(envs) == {("start",), ("end",)}
    assert envs[("end",)]["packages"]["six"] == "1.17.0"
    shown = env_run("two_versions_flow.py", "environment", "show", "end")
    assert "six==1.17.0 \\" in shown.stdout and "--hash=sha256:" in shown.stdout
    none = env_run("two_versions_flow.py", "environment", "show", "middle", expect=1)
    assert "has no @pypi/@conda environment" in none.stderr
    assert "Traceback" not in none.stderr


def test_with_pypi_and_conda_go_through_the_same_path(env_run) -> None:
    from flowlib import Flow

    env_run("plain_flow.py", "run", "--with", 'pypi:packages={"six": "1.16.0"}')
    run = Flow("PlainFlow").latest_run
    assert run["end"].task.data.six == "1.16.0"
    assert run["start"].task.environment["requirements"] == ["six==1.16.0"]

    env_run("conda_flow.py", "run")
    task = Flow("CondaFlow").latest_run["start"].task
    assert task.data.six == "1.16.0" and task.environment["python"] == "3.11"


def test_two_concurrent_runs_build_each_environment_once(env_run, uv_cache: str) -> None:
    from flowlib import Flow

    backend = env_run.backend
    env = {**os.environ, **backend.env, "UV_CACHE_DIR": uv_cache}
    procs = [
        subprocess.Popen(
            [sys.executable, str(FLOWS / "two_versions_flow.py"), "run"],
            cwd=backend.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
    assert sum(_builds(out) for out, _ in outputs) == 2  # two environments, each built once
    runs = list(Flow("TwoVersionsFlow"))
    assert len(runs) == 2
    assert {r["end"].task.data.end_six for r in runs} == {"1.17.0"}
    venvs = Path(backend.env["FLOWLIB_DATASTORE_ROOT"]) / "environments" / "venvs"
    assert sorted(p.name for p in venvs.iterdir() if p.is_dir()).__len__() == 2


def test_bad_environments_fail_before_anything_runs(env_run) -> None:
    proc = env_run("bad_environments_flow.py", "run", expect=1)
    err = proc.stderr
    assert "Traceback" not in err
    assert "step 'start'" in err and "no-such-package-flowlib-test was not found" in err
    assert "step 'pinned'" in err and "six==99.0" in err
    assert "step 'conda_only'" in err and "conda-only package cannot be installed" in err
    assert "step 'end': python 3.7 is not installed on this machine" in err
    # nothing ran: no run was created
    root = Path(env_run.backend.env["FLOWLIB_DATASTORE_ROOT"])
    import sqlite3

    with sqlite3.connect(root / "metadata.db") as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
        count = db.execute("select count(*) from runs").fetchone()[0] if "runs" in tables else 0
    assert count == 0


@pytest.mark.parametrize("backend", ["aws"], indirect=True)
def test_environments_with_s3_and_dynamodb_stores(backend, uv_cache: str, tmp_path: Path
                                                  ) -> None:
    """With an AWS profile the environment also gets what a task needs to open S3 and
    DynamoDB; the lock lives in the datastore, where a second machine finds it."""
    from flowlib import Flow

    def machine(name: str) -> dict[str, str]:
        return {"UV_CACHE_DIR": uv_cache, "FLOWLIB_ENVIRONMENTS_DIR": str(tmp_path / name)}

    first = backend.run(FLOWS / "two_versions_flow.py", "run", env=machine("laptop"))
    assert first.stdout.count("Resolving environment ") == 2
    run = Flow("TwoVersionsFlow").latest_run
    assert run["end"].task.data.end_six == "1.17.0"
    assert {"boto3", "tenacity"} <= set(run["end"].task.environment["packages"])
    # Another machine (its own environments folder, same store): it builds its virtualenvs but
    # finds both locks in the datastore's index, so uv resolves nothing and the versions are
    # the locked ones.
    second = backend.run(FLOWS / "two_versions_flow.py", "run", env=machine("colleague"))
    assert "Resolving" not in second.stdout and _builds(second.stdout) == 2
    again = Flow("TwoVersionsFlow").latest_run
    assert again["end"].task.environment == run["end"].task.environment
