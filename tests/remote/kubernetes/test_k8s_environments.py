"""@pypi with ``--with kubernetes`` against kmock and the test controller (pods run the job's
command as local processes): each step's Job unpacks its environment bundle and imports the
locked versions."""

from __future__ import annotations

from pathlib import Path

from flowlib import Flow
from tests.environments.conftest import shared_uv_cache

FLOWS = Path(__file__).resolve().parents[2] / "environments" / "flows"


def test_each_kubernetes_step_gets_its_locked_versions(k8s, kube, tmp_path_factory) -> None:
    proc = k8s.run(FLOWS / "two_versions_flow.py", "run", "--with", "kubernetes",
                   env={"UV_CACHE_DIR": shared_uv_cache(tmp_path_factory)})
    assert proc.stdout.count("Building container environment ") == 2
    run = Flow("TwoVersionsFlow").latest_run
    start, middle, end = (run[s].task for s in ("start", "middle", "end"))
    assert start.data.start_six == "1.16.0" and end.data.end_six == "1.17.0"
    assert end.environment["platform"] == "x86_64-manylinux_2_28"
    assert middle.environment is None
    commands = {j["metadata"]["labels"]["flowlib/step"]: j["spec"]["template"]["spec"][
        "containers"][0]["command"] for j in kube.jobs_seen
        if j["metadata"]["labels"]["flowlib/flow"] == "TwoVersionsFlow"}
    assert "--environment" in commands["start"] and "--environment" not in commands["middle"]
