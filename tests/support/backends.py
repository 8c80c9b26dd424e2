"""Where a test's flows store their runs: one object per backend, same interface.

Every flow test takes the ``backend`` fixture and runs real flow files in subprocesses through
``backend.run(...)``; in-process client checks go through ``backend.activate()``. New backends
(S3 + DynamoDB against a moto server) add a parameter to the fixture, so the whole suite runs
against each of them unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parent.parent / "flows"


@dataclass
class Backend:
    name: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    launcher: str = "fork"

    def run(
        self,
        flow: str | Path,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 180,
        expect: int | None = 0,
    ) -> subprocess.CompletedProcess:
        """Run ``python <flow> <args>``; assert the exit code unless ``expect`` is None."""
        path = Path(flow) if Path(flow).is_absolute() else FLOWS / flow
        full_env = {**os.environ, **self.env, "FLOWLIB_LAUNCHER": self.launcher, **(env or {})}
        proc = subprocess.run(
            [sys.executable, str(path), *args],
            cwd=self.workdir,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if expect is not None and proc.returncode != expect:
            raise AssertionError(
                f"{path.name} {' '.join(args)} exited {proc.returncode}, expected {expect}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def activate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point this process's client API at the backend's stores."""
        from flowlib.client import default_namespace
        from flowlib.stores import reset_stores

        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        reset_stores()
        default_namespace()


def local_backend(tmp_path: Path, launcher: str = "fork") -> Backend:
    root = tmp_path / "store"
    # FLOWLIB_CONFIG=env: a developer's own config file must not leak into the tests.
    env = {"FLOWLIB_DATASTORE_ROOT": str(root), "FLOWLIB_CONFIG": "env"}
    return Backend("local", tmp_path, env, launcher)
