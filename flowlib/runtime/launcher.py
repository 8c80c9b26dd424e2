"""Starting task attempts as isolated processes.

``ForkLauncher`` (the default) forks the already-warm runtime process: no interpreter start, no
re-import of the flow or its libraries, about 2 ms per task instead of Metaflow's fresh
interpreter (~0.2 s). ``SubprocessLauncher`` runs the standalone ``python flow.py step`` command
in a fresh interpreter: the exact command a remote backend (Batch, Kubernetes) runs.

A forked task freezes the garbage collector's view of what it inherited (``gc.freeze``), so its
cost does not grow with the runtime's heap (bench/scale.py, README "Performance").

Either way each attempt is its own process in its own process group, with stdout and stderr on
pipes read by the scheduler: a step that raises, calls ``os._exit``, segfaults or is killed by
the OOM killer takes only its own process down. Both implement
``flowlib.runtime.protocol.Launcher``. The other way round, a runtime that dies takes
its tasks with it (``parent_death``: the kernel SIGKILLs them).
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from collections.abc import Callable

from flowlib.exceptions import FlowlibError
from flowlib.runtime.parent_death import PARENT_ENV, die_with_parent
from flowlib.runtime.spec import TaskSpec


class Worker:
    """A running attempt: its pid and the read ends of its output pipes.

    Remote launchers subclass it: their ``fds`` are pipes fed by a thread that streams the
    remote logs, ``poll``/``kill`` talk to the remote service, and ``failure_reason`` explains
    a failure the task could not record itself (image pull error, unschedulable pod, ...).
    """

    def __init__(self, spec: TaskSpec, pid: int, stdout_fd: int, stderr_fd: int) -> None:
        self.spec = spec
        self.pid = pid
        self.fds = {stdout_fd: "stdout", stderr_fd: "stderr"}
        self.output: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self.status: int | None = None  # waitpid status once reaped
        self.deadline: float | None = None
        self.timed_out = False
        self.started = 0.0
        self.failure_reason: str | None = None

    def poll(self, block: bool = False) -> bool:
        """Reap the process if it has exited; True once it has."""
        if self.status is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.status = 0
            return True
        if pid == 0:
            return False
        self.status = status
        return True

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    @property
    def exit_description(self) -> tuple[int | None, int | None]:
        """(exit code, signal number) of the reaped process."""
        if self.status is None:
            return None, None
        if os.WIFSIGNALED(self.status):
            return None, os.WTERMSIG(self.status)
        return os.WEXITSTATUS(self.status), None


class ForkLauncher:
    """Run ``execute(spec)`` in a forked child; its return value decides the exit code."""

    def __init__(self, execute: Callable[[TaskSpec], bool]) -> None:
        self.execute = execute
        self.open_fds: set[int] = set()

    def launch(self, spec: TaskSpec) -> Worker:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        runtime_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, measured through its effects
            die_with_parent(runtime_pid)
            self._child(spec, out_w, err_w, (out_r, err_r))
        os.close(out_w)
        os.close(err_w)
        self.open_fds.update((out_r, err_r))
        return Worker(spec, pid, out_r, err_r)

    def _child(self, spec: TaskSpec, out_w: int, err_w: int, own_reads: tuple[int, int]) -> None:
        code = 1
        try:
            # Everything inherited from the runtime is out of this task's garbage collector's
            # reach: without this a collection in the task walks (and so copies, page by page)
            # the whole runtime heap, which grows with the run (10,000 task specs at a foreach
            # fan-out), and per-task cost grows with the run size. bench/scale.py measures it.
            gc.freeze()
            os.setpgid(0, 0)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            for fd in (*self.open_fds, *own_reads):
                try:
                    os.close(fd)
                except OSError:
                    pass
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.close(out_w)
            os.close(err_w)
            sys.stdout.reconfigure(line_buffering=True)
            sys.stderr.reconfigure(line_buffering=True)
            _reseed_numpy()
            code = 0 if self.execute(spec) else 1
        except FlowlibError as exc:
            # A store that failed while the task recorded its start or outcome (an outage
            # longer than store_retry_seconds): the error names the call and the store, and the
            # scheduler reports the task as dead. Not a bug in flowlib: no traceback.
            print(f"flowlib: {exc}", file=sys.stderr)
        except BaseException:  # noqa: BLE001 - report and exit; never return into the parent's loop
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def closed(self, fd: int) -> None:
        self.open_fds.discard(fd)

    def shutdown(self) -> None:
        """Nothing to release: every child was reaped by the scheduler."""


class SubprocessLauncher:
    """Run the standalone ``python <flow file> step ...`` command in a fresh interpreter."""

    def __init__(self, script: str, env: dict[str, str], python: str | None = None) -> None:
        self.script = script
        self.python = python or sys.executable  # a step's own environment (@pypi) has its own
        # The step command asks the kernel to kill it when this runtime dies (parent_death).
        self.env = {**os.environ, **env, PARENT_ENV: str(os.getpid())}

    def launch(self, spec: TaskSpec) -> Worker:
        proc = subprocess.Popen(
            [self.python, self.script, *spec.command_args()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        stdout_fd = os.dup(proc.stdout.fileno())
        stderr_fd = os.dup(proc.stderr.fileno())
        proc.stdout.close()
        proc.stderr.close()
        # The scheduler reaps the process with waitpid; Popen must not try to as well.
        proc.returncode = 0
        return Worker(spec, proc.pid, stdout_fd, stderr_fd)

    def closed(self, fd: int) -> None:
        pass

    def shutdown(self) -> None:
        """Nothing to release: every child was reaped by the scheduler."""


def _reseed_numpy() -> None:
    # A forked child inherits the parent's numpy RNG state; a fresh process would not. Reseed
    # so that foreach tasks drawing random numbers don't all draw the same ones.
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed()
        except Exception:  # noqa: BLE001 - never fail a task over reseeding
            pass
