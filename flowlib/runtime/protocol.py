"""The launcher protocol: how the scheduler starts task attempts, whatever runs them.

Every launcher (fork and subprocess on this machine, AWS Batch, Kubernetes, and the router that
picks one per step) implements ``Launcher``. A remote backend's launcher class is also a
``LauncherFactory``: the router builds it, on first use, from the flow and its stores. Backends
are listed in ``flowlib.backends``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from flowlib.decorators import StepDecorator
    from flowlib.graph import FlowGraph
    from flowlib.runtime.launcher import Worker
    from flowlib.runtime.spec import TaskSpec
    from flowlib.stores import Stores


@runtime_checkable
class Launcher(Protocol):
    """Starts task attempts and owns whatever it needs to (threads, connections, jobs)."""

    def launch(self, spec: TaskSpec) -> Worker:
        """Start the attempt ``spec`` and return at once with its ``Worker``: the read ends of
        its stdout and stderr (the scheduler reads them until EOF), ``poll``/``kill``, and a
        ``failure_reason`` for failures the task could not record itself."""
        ...

    def closed(self, fd: int) -> None:
        """The scheduler closed ``fd`` (a worker's pipe): forget it (a forked child must not
        inherit a descriptor that is already closed)."""
        ...

    def shutdown(self) -> None:
        """The run is over (finished, failed or interrupted): stop background threads and
        release clients. Called exactly once, after the last ``launch``; it must not raise
        for tasks that already ended."""
        ...


@runtime_checkable
class RemoteLauncher(Launcher, Protocol):
    """A launcher whose tasks outlive a runtime that dies (jobs on Batch, Kubernetes Jobs)."""

    def stop_run_jobs(self, run_id: str) -> int:
        """Stop every task of run ``run_id`` still running on this backend (its runtime died;
        a resume must neither run them twice nor let them write late). Returns how many."""
        ...


class LauncherFactory(Protocol):
    """A remote backend's launcher class, as ``flowlib.backends`` names it."""

    def __call__(
        self,
        flow_cls: type,
        graph: FlowGraph,
        stores: Stores,
        decorators: dict[str, dict[str, StepDecorator]],
    ) -> Launcher: ...
