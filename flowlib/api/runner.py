"""``Runner``: run a flow file from Python, as ``python flow.py run`` does (Metaflow's names).

    from flowlib import Runner

    run = Runner("flow.py", profile="prod").run(alpha=0.5)     # blocks, returns the client Run
    with Runner("flow.py").async_run(alpha=0.5) as running:    # returns at once
        for line in running.stream_log():                       # live output of the run
            print(line)
        running.wait()
        print(running.status, running.run["end"].task.data.result)

The flow runs in a subprocess (its own interpreter, the command line users already know), so
a failing flow never takes the caller down and every option of ``run`` keeps its meaning.
The run id comes back through ``--run-id-file``. With ``profile=``, the subprocess uses that
profile and, once the run id is known, so does this process's client API (like Metaflow's
``metadata(...)`` switch): ``runner.run`` reads the run from where it was stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flowlib.client import Run
from flowlib.exceptions import FlowlibError


class RunnerError(FlowlibError):
    """The flow could not be started (or did not report a run id); the message says why."""


def cli_value(value: Any) -> str:
    """A Python value as ``run`` expects it on its command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def cli_options(values: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for name, value in values.items():
        if value is None:
            continue
        args += [f"--{name.replace('_', '-')}", cli_value(value)]
    return args


class ExecutingRun:
    """A run started by ``Runner.async_run``: its status, its output, its client ``Run``.

    ``status`` is ``"running"``, ``"successful"`` or ``"failed"`` (the process's exit code
    decides). ``wait(timeout=None)`` blocks until the run ends and returns ``self``;
    ``stream_log("stdout"|"stderr")`` yields the run's output lines as they are printed;
    ``stdout``/``stderr`` hold everything printed so far. Usable as a context manager: leaving
    the block kills a run still going.
    """

    def __init__(self, runner: Runner, process: subprocess.Popen, run_id_file: Path) -> None:
        self._runner = runner
        self._process = process
        self._run_id_file = run_id_file
        self._lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._done = {"stdout": threading.Event(), "stderr": threading.Event()}
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._pump, args=(name,), daemon=True)
                         for name in ("stdout", "stderr")]
        for reader in self._readers:
            reader.start()

    def _pump(self, name: str) -> None:
        stream = getattr(self._process, name)
        for line in iter(stream.readline, ""):
            with self._changed:
                self._lines[name].append(line.rstrip("\n"))
                self._changed.notify_all()
        stream.close()
        with self._changed:
            self._done[name].set()
            self._changed.notify_all()

    # -- state ----------------------------------------------------------------------------
    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    @property
    def status(self) -> str:
        code = self._process.poll()
        if code is None:
            return "running"
        return "successful" if code == 0 else "failed"

    @property
    def stdout(self) -> str:
        return "\n".join(self._lines["stdout"])

    @property
    def stderr(self) -> str:
        return "\n".join(self._lines["stderr"])

    @property
    def run_id(self) -> str | None:
        """Known as soon as the run is allocated (before its first task runs)."""
        try:
            return self._run_id_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    @property
    def run(self) -> Run:
        """The client ``Run`` (available once the run id is known)."""
        run_id = self.run_id
        if run_id is None:
            raise RunnerError(
                f"{self._runner.flow_file.name} has not allocated a run"
                + (f" (it exited {self.returncode}):\n{self.stderr[-2000:]}"
                   if self.returncode is not None else " yet: call wait() first."))
        self._runner._use_profile_here()
        return Run(f"{self._runner.flow_name()}/{run_id}")

    # -- waiting and output --------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> ExecutingRun:
        """Block until the run ends (``TimeoutError`` after ``timeout`` seconds)."""
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"the run did not end within {timeout:g} s") from None
        for reader in self._readers:
            reader.join()
        return self

    def stream_log(self, stream: str = "stdout") -> Iterator[str]:
        """Lines of the run's ``stdout`` or ``stderr`` as they come, until the run ends."""
        if stream not in self._lines:
            raise ValueError("stream_log: stream is 'stdout' or 'stderr'")
        position = 0
        while True:
            with self._changed:
                while position >= len(self._lines[stream]) and not self._done[stream].is_set():
                    self._changed.wait()
                lines = self._lines[stream][position:]
                finished = self._done[stream].is_set()
            yield from lines
            position += len(lines)
            if finished and position >= len(self._lines[stream]):
                return

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> ExecutingRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        for reader in self._readers:
            reader.join()

    def __repr__(self) -> str:
        return f"<ExecutingRun {self._runner.flow_file.name} run {self.run_id} {self.status}>"


class Runner:
    """Run ``flow_file`` from Python (Metaflow's ``metaflow.Runner``).

    ``Runner(flow_file, profile=None, env=None, cwd=None, **top_level)``: ``profile`` is a
    flowlib profile name (default: the caller's), ``env`` extra environment variables for the
    run, ``top_level`` options placed before ``run`` (``name=value`` as ``--name value``,
    ``name=True`` as ``--name``). ``run(**params)`` blocks and returns the client ``Run``
    (``RunnerError`` if the run failed, with its error output); ``async_run(**params)`` returns an
    ``ExecutingRun`` at once. Flow parameters are keyword arguments (``alpha=0.5``);
    ``tags=[...]``, ``max_workers=``, ``with_=[...]``, ``quiet=True`` are ``run``'s own
    options.
    """

    def __init__(self, flow_file: str | os.PathLike, profile: str | None = None,
                 env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None,
                 **top_level: Any) -> None:
        self.flow_file = Path(flow_file).resolve()
        if not self.flow_file.is_file():
            raise RunnerError(f"Runner: flow file {flow_file} does not exist.")
        self.profile = profile
        self.env = dict(env or {})
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self.top_level = top_level
        self._flow_name: str | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix="flowlib-runner-"))
        self._started: list[ExecutingRun] = []

    # -- the subprocess -------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        if self.profile is not None:
            env["FLOWLIB_PROFILE"] = self.profile
        return env

    def command(self, subcommand: list[str], options: dict[str, Any]) -> list[str]:
        top = []
        for name, value in self.top_level.items():
            flag = f"--{name.replace('_', '-')}"
            top += [flag] if value is True else [] if value in (False, None) else [
                flag, cli_value(value)]
        return [sys.executable, str(self.flow_file), *top, *subcommand, *_run_options(options)]

    def flow_name(self) -> str:
        """The flow class's name (read from the file's source, without running it)."""
        if self._flow_name is None:
            self._flow_name = _flow_name_from_source(self.flow_file)
        return self._flow_name

    def _use_profile_here(self) -> None:
        if self.profile is None or os.environ.get("FLOWLIB_PROFILE") == self.profile:
            return
        from flowlib.stores import reset_stores

        os.environ["FLOWLIB_PROFILE"] = self.profile
        reset_stores()

    # -- the API --------------------------------------------------------------------------
    def async_run(self, **options: Any) -> ExecutingRun:
        """Start the run and return at once (``ExecutingRun``)."""
        run_id_file = self._tmp / f"run-id-{len(self._started)}"
        command = self.command(["run", "--run-id-file", str(run_id_file)], options)
        process = subprocess.Popen(  # noqa: S603
            command, cwd=self.cwd, env=self.environment(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1)
        executing = ExecutingRun(self, process, run_id_file)
        self._started.append(executing)
        return executing

    def run(self, **options: Any) -> Run:
        """Run to the end; the client ``Run``. ``RunnerError`` (with the run's last error
        output) when the run failed or could not start."""
        executing = self.async_run(**options).wait()
        if executing.status != "successful":
            where = f" (run {executing.run_id})" if executing.run_id else ""
            raise RunnerError(f"{self.flow_file.name} run{where} failed with exit code "
                              f"{executing.returncode}:\n{executing.stderr[-3000:]}")
        return executing.run

    def cleanup(self) -> None:
        for executing in self._started:
            executing.kill()
        for path in self._tmp.glob("*"):
            path.unlink()
        self._tmp.rmdir()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _run_options(options: dict[str, Any]) -> list[str]:
    """Keyword arguments as ``run`` options: ``tags=[...]`` repeats ``--tag``, ``with_=[...]``
    repeats ``--with``, anything else is ``--name value`` (flow parameters included)."""
    args: list[str] = []
    rest = dict(options)
    for tag in rest.pop("tags", None) or []:
        args += ["--tag", str(tag)]
    for spec in rest.pop("with_", None) or []:
        args += ["--with", str(spec)]
    if rest.pop("quiet", False):
        args.append("--quiet")
    return args + cli_options(rest)


def _flow_name_from_source(path: Path) -> str:
    import ast

    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
                getattr(base, "id", getattr(base, "attr", "")) == "FlowSpec"
                for base in node.bases):
            return node.name
    raise RunnerError(f"{path.name} defines no FlowSpec subclass.")
