"""Several runs of one flow at once in the same store."""

from __future__ import annotations

import os
import subprocess
import sys

from flowlib import Flow
from tests.support.backends import FLOWS


def test_concurrent_runs_get_distinct_ids_and_lose_nothing(backend):
    env = {**os.environ, **backend.env, "FLOWLIB_LAUNCHER": backend.launcher}
    procs = [
        subprocess.Popen(
            [sys.executable, str(FLOWS / "foreach_flow.py"), "run", "--width", "5", "--quiet"],
            cwd=backend.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    runs = list(Flow("ForeachFlow").runs())
    assert sorted(r.id for r in runs) == ["1", "2", "3", "4"]
    for run in runs:
        assert run.successful
        assert len(list(run["inner"].tasks())) == 10
        assert sorted(run.data.grid) == ["a", "b", "c", "d", "e"]
