"""Fixtures for the Kubernetes backend: one emulated cluster (kmock) and one test controller per
session, and a ``k8s`` backend whose ``run``/``resume`` add ``--with kubernetes``.

kmock and the controller are test doubles (tests/support/kube_controller.py): the API calls,
the Job manifests, the watch, the log streaming and the container command are flowlib's real
ones; scheduling and running the pod are played by the controller on this machine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.backends import Backend, local_backend

pytest.importorskip("kubernetes")
pytest.importorskip("kmock")

from tests.support.kube_controller import KmockCluster, KubeController  # noqa: E402

IMAGE = "registry.example/flowlib:test"  # never pulled: the controller runs the command here


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeController]:
    cluster = KmockCluster().start()
    controller = KubeController(cluster).start()
    try:
        yield controller
    finally:
        controller.stop()
        cluster.stop()


@dataclass
class K8sBackend(Backend):
    """A Backend whose runs send every step to the emulated cluster (``--with kubernetes``).

    ``env`` given to :meth:`run` reaches the flow process *and* its pods (the controller's node
    environment), as a test's ``LEDGER`` or ``SLEEP`` must reach the step wherever it runs.
    """

    controller: Any = None
    with_kubernetes: bool = True

    def run(self, flow: str | Path, *args: str, env: dict[str, str] | None = None,
            **kwargs: Any):  # type: ignore[override]
        if self.with_kubernetes and args and args[0] in ("run", "resume"):
            args = (args[0], "--with", "kubernetes", *args[1:])
        with self.node_env(env or {}):
            return super().run(flow, *args, env=env, **kwargs)

    @contextlib.contextmanager
    def node_env(self, env: dict[str, str]) -> Iterator[None]:
        saved = dict(self.controller.node_env)
        self.controller.node_env.update(env)
        try:
            yield
        finally:
            self.controller.node_env.clear()
            self.controller.node_env.update(saved)


def kubernetes_env(controller: KubeController) -> dict[str, str]:
    return {
        "FLOWLIB_KUBERNETES_HOST": controller.cluster.url,
        "FLOWLIB_IMAGE": IMAGE,
        "FLOWLIB_KUBERNETES_SERVICE_ACCOUNT": "flowlib-task",
        "FLOWLIB_KUBERNETES_UNSCHEDULABLE_GRACE": "0",
    }


@pytest.fixture
def k8s(kube: KubeController, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[K8sBackend]:
    """Local stores (the controller's pods run on this machine and see them) + the cluster."""
    base = local_backend(tmp_path)
    env = {**base.env, **kubernetes_env(kube), "FLOWLIB_KUBERNETES_LOCAL_STORES": "1"}
    backend = K8sBackend("k8s-local", tmp_path, env, controller=kube)
    kube.reset()
    backend.activate(monkeypatch)
    yield backend
    from flowlib.stores import reset_stores

    reset_stores()


@pytest.fixture
def k8s_aws(kube: KubeController, request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[K8sBackend]:
    """S3 + DynamoDB stores on the session's moto server: what a real cluster needs. The pods
    get the moto endpoint and credentials as node environment (standing in for EKS pod
    identity); the launcher gives them only the profile's keys."""
    pytest.importorskip("moto")
    from tests.support.moto_server import aws_backend

    base = aws_backend(request, tmp_path)
    stack = base.stack  # type: ignore[attr-defined]
    env = {**base.env, **kubernetes_env(kube)}
    backend = K8sBackend("k8s-aws", tmp_path, env, controller=kube)
    backend.table = base.table  # type: ignore[attr-defined]
    kube.reset()
    saved = dict(kube.node_env)
    kube.node_env.update(stack.env)
    backend.activate(monkeypatch)
    yield backend
    kube.node_env.clear()
    kube.node_env.update(saved)
    from flowlib.stores import reset_stores

    reset_stores()
