"""Which launcher starts a task: the step's compute backend (its own ``@batch``/
``@kubernetes``, else ``--with``, else this machine), looked up in ``flowlib.backends``.

Remote launchers are built on first use (they import boto3 or the kubernetes client) and all
launchers are shut down together when the run ends.
"""

from __future__ import annotations

from flowlib.backends import LOCAL, backend
from flowlib.decorators import StepDecorator, compute_backend, merge_step_decorators
from flowlib.graph import FlowGraph
from flowlib.runtime.launcher import Worker
from flowlib.runtime.protocol import Launcher, LauncherFactory, RemoteLauncher
from flowlib.runtime.spec import TaskSpec
from flowlib.stores import Stores


def effective_decorators(
    graph: FlowGraph, extra: list[StepDecorator]
) -> dict[str, dict[str, StepDecorator]]:
    return {node.name: merge_step_decorators(node.decorators, extra) for node in graph}


def backends_used(decorators: dict[str, dict[str, StepDecorator]]) -> set[str]:
    """The remote backends a run's steps use (empty: everything runs on this machine)."""
    return {b for d in decorators.values() if (b := compute_backend(d)) is not None}


class LauncherRouter:
    """A ``Launcher`` that hands each task to its step's backend's launcher."""

    def __init__(
        self,
        local: Launcher,
        flow_cls: type,
        graph: FlowGraph,
        stores: Stores,
        decorators: dict[str, dict[str, StepDecorator]],
    ) -> None:
        self._launchers: dict[str, Launcher] = {LOCAL: local}
        self._backend_of = {step: compute_backend(d) or LOCAL for step, d in decorators.items()}
        self._build = (flow_cls, graph, stores, decorators)

    def launch(self, spec: TaskSpec) -> Worker:
        return self._launcher(self._backend_of[spec.step]).launch(spec)

    def _launcher(self, name: str) -> Launcher:
        launcher = self._launchers.get(name)
        if launcher is None:
            factory: LauncherFactory = backend(name).load("launcher")
            launcher = self._launchers[name] = factory(*self._build)
        return launcher

    def closed(self, fd: int) -> None:
        for launcher in self._launchers.values():
            launcher.closed(fd)

    def stop_remote_tasks_of(self, run_id: str) -> dict[str, int]:
        """Stop what an earlier run left running on remote backends (its runtime died, so its
        remote tasks would run on unwatched, and a resume would run them again beside them).
        Returns the number stopped per backend."""
        stopped = {}
        for name in sorted(set(self._backend_of.values()) - {LOCAL}):
            launcher = self._launcher(name)
            if isinstance(launcher, RemoteLauncher):
                stopped[name] = launcher.stop_run_jobs(run_id)
        return stopped

    def shutdown(self) -> None:
        """Shut every launcher down, even when one of them fails; then raise the first error."""
        first: BaseException | None = None
        for launcher in self._launchers.values():
            try:
                launcher.shutdown()
            except BaseException as exc:  # noqa: BLE001 - the others must still stop
                first = first or exc
        if first is not None:
            raise first
