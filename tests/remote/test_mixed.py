"""A run with one @batch step and one @kubernetes step: both launchers in one scheduler, on the
same S3 + DynamoDB stores (moto). Batch runs through moto and the fake Docker engine, Kubernetes
through kmock and the test controller (both test doubles; see their conftest files)."""

from __future__ import annotations

import pytest

from flowlib import Flow

pytest.importorskip("docker")
pytest.importorskip("kmock")

from tests.remote.batch.conftest import batch_backend, batch_stack  # noqa: E402, F401
from tests.remote.kubernetes.conftest import kube, kubernetes_env  # noqa: E402, F401
from tests.support.backends import FLOWS  # noqa: E402

MIXED = FLOWS / "remote" / "mixed_batch_k8s_flow.py"


def test_one_batch_step_and_one_kubernetes_step_in_one_run(batch_backend, batch_stack, kube):  # noqa: E501, F811
    # The pods reach the Batch stack's moto server, as EKS pods reach AWS through pod identity.
    saved = dict(kube.node_env)
    kube.node_env.update(batch_stack.stack.env)
    kube.reset()
    try:
        batch_backend.run(MIXED, "run", env=kubernetes_env(kube))
    finally:
        kube.node_env.clear()
        kube.node_env.update(saved)
    run = Flow("MixedBatchK8sFlow").latest_run
    assert run.successful and run.data.total == 43
    assert run["join"].task.data.places == ["batch", "kubernetes"]
    steps = [j["metadata"]["labels"]["flowlib/step"] for j in kube.jobs_seen]
    assert steps == ["on_k8s"]
