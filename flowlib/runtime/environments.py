"""Steps with their own Python environment (``@pypi``/``@conda``, ``flowlib.environments``).

Before the run is created, every step's environment is locked and built (or found built); a
problem stops the run there, with one message. A task of such a step then starts as the
standalone ``python flow.py step ...`` command in that environment's interpreter, with flowlib
(and only flowlib) added to its path; steps without an environment keep the run's usual
launcher (the fork fast path).
"""

from __future__ import annotations

from pathlib import Path

from flowlib.decorators import StepDecorator, compute_backend
from flowlib.runtime.console import Console
from flowlib.runtime.launcher import SubprocessLauncher, Worker
from flowlib.runtime.protocol import Launcher
from flowlib.runtime.spec import TaskSpec
from flowlib.stores import Stores


def prepare_step_environments(
    flow_cls: type, stores: Stores, decorators: dict[str, dict[str, StepDecorator]],
    console: Console,
) -> tuple[dict[str, Path], Path | None]:
    """(step -> interpreter, folder that makes flowlib importable); empty for a flow with no
    environment decorator (uv is not run, not even imported)."""
    from flowlib.environments import prepare

    planned = prepare.plan(flow_cls, decorators)
    if not planned:
        return {}, None
    backend_of = {s: compute_backend(d) for s, d in decorators.items()}
    prepare.check_supported_backends(planned, backend_of)
    remote = [s for s in planned if backend_of[s] is not None]
    if remote:
        # Resolved and built now, so a bad package fails before the run; the backend's
        # launcher finds them in the index when it submits the step's tasks.
        prepare.container_bundles(flow_cls, stores, decorators, remote, console.info)
    local = {s: d for s, d in decorators.items() if backend_of[s] is None}
    specs, locks, folder = prepare.lock_steps(flow_cls, stores, local, console.info)
    if not specs:
        return {}, None
    pythons = prepare.build_environments(specs, locks, folder, console.info)
    return pythons, prepare.flowlib_path(folder)


class StepEnvironmentLauncher:
    """A ``Launcher``: each step with an environment gets a ``SubprocessLauncher`` running its
    environment's interpreter; every other task goes to ``default``."""

    def __init__(
        self, default: Launcher, pythons: dict[str, Path], flowlib_path: Path, script: str,
        env: dict[str, str],
    ) -> None:
        self.default = default
        # PYTHONPATH holds only flowlib: the environment's own packages decide the rest.
        task_env = {**env, "PYTHONPATH": str(flowlib_path)}
        self._by_step = {
            step: SubprocessLauncher(script, task_env, python=str(python))
            for step, python in pythons.items()
        }

    def launch(self, spec: TaskSpec) -> Worker:
        return self._by_step.get(spec.step, self.default).launch(spec)

    def closed(self, fd: int) -> None:
        self.default.closed(fd)

    def shutdown(self) -> None:
        self.default.shutdown()
