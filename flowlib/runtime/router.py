"""Which launcher starts a task: this machine, AWS Batch or Kubernetes, by the step's
effective compute decorator (its own ``@batch``/``@kubernetes``, else ``--with``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from flowlib.decorators import StepDecorator, compute_backend, merge_step_decorators
from flowlib.exceptions import FlowlibError
from flowlib.graph import FlowGraph
from flowlib.runtime.launcher import Worker
from flowlib.runtime.spec import TaskSpec
from flowlib.stores import Stores

# Remote launchers are imported only when a run uses them (they pull in boto3, kubernetes).
# Each is a class built as Launcher(flow_cls, graph, stores, decorators_by_step) with
# launch(spec) -> Worker and closed(fd).
REMOTE_LAUNCHERS: dict[str, str] = {
    "batch": "flowlib.remote.batch.launcher:BatchLauncher",
    "kubernetes": "flowlib.remote.kubernetes.launcher:KubernetesLauncher",
}


def effective_decorators(
    graph: FlowGraph, extra: list[StepDecorator]
) -> dict[str, dict[str, StepDecorator]]:
    return {node.name: merge_step_decorators(node.decorators, extra) for node in graph}


def backends_used(decorators: dict[str, dict[str, StepDecorator]]) -> set[str]:
    return {b for d in decorators.values() if (b := compute_backend(d)) is not None}


class LauncherRouter:
    def __init__(
        self,
        local: Any,
        flow_cls: type,
        graph: FlowGraph,
        stores: Stores,
        decorators: dict[str, dict[str, StepDecorator]],
    ) -> None:
        self._local = local
        self._decorators = decorators
        self._remote: dict[str, Any] = {}
        self._make: Callable[[str], Any] = lambda name: _load(name)(
            flow_cls, graph, stores, decorators
        )

    def launch(self, spec: TaskSpec) -> Worker:
        backend = compute_backend(self._decorators[spec.step])
        if backend is None:
            return self._local.launch(spec)
        if backend not in self._remote:
            self._remote[backend] = self._make(backend)
        return self._remote[backend].launch(spec)

    def closed(self, fd: int) -> None:
        self._local.closed(fd)
        for launcher in self._remote.values():
            launcher.closed(fd)

    def stop_remote_tasks_of(self, run_id: str) -> dict[str, int]:
        """Stop what an earlier run left running on remote backends (its runtime died, so its
        remote tasks would run on unwatched, and a resume would run them again beside them).
        Returns the number stopped per backend."""
        stopped = {}
        for backend in sorted(backends_used(self._decorators)):
            if backend not in self._remote:
                self._remote[backend] = self._make(backend)
            stop = getattr(self._remote[backend], "stop_run_jobs", None)
            if stop is not None:
                stopped[backend] = stop(run_id)
        return stopped

    def shutdown(self) -> None:
        for launcher in self._remote.values():
            stop = getattr(launcher, "shutdown", None)
            if stop is not None:
                stop()


def _load(name: str) -> Any:
    target = REMOTE_LAUNCHERS.get(name)
    if target is None:
        raise FlowlibError(f"No launcher for compute backend '{name}'.")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise FlowlibError(
            f"Running steps on {name} needs the package '{exc.name}': "
            f"pip install 'flowlib-platform[aws,kubernetes]'."
        ) from None
    return getattr(module, attr)
