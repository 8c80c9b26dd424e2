"""The compute backend table (flowlib/backends.py) and the launcher protocol
(flowlib/runtime/protocol.py): each backend's pieces exist and fit, are imported only on use,
and the router drives every launcher through the protocol alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from flowlib import backends
from flowlib.backends import BACKENDS, Backend
from flowlib.config import KEYS
from flowlib.decorators import COMPUTE_DECORATORS, DECORATORS, StepDecorator, parse_with_option
from flowlib.exceptions import FlowlibError
from flowlib.runtime.launcher import ForkLauncher, SubprocessLauncher, Worker
from flowlib.runtime.protocol import Launcher
from flowlib.runtime.router import LauncherRouter
from flowlib.runtime.spec import TaskSpec

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("entry", list(BACKENDS.values()), ids=list(BACKENDS))
def test_each_backend_entry_names_pieces_that_exist_and_fit(entry: Backend) -> None:
    if entry.decorator:
        cls = entry.load("decorator")
        assert issubclass(cls, StepDecorator) and cls.name == entry.name
        assert entry.name in COMPUTE_DECORATORS
        assert parse_with_option(entry.name).name == entry.name  # --with NAME works
    if entry.launcher:
        assert issubclass(entry.load("launcher"), Launcher)  # launch, closed, shutdown
    if entry.cli_group:
        group = entry.load("cli_group")()
        assert isinstance(group, click.Group) and group.name == entry.name
        assert entry.cli_help
    for key in entry.profile_keys:
        assert KEYS[key.name].kind == key.kind and KEYS[key.name].env == key.env


def test_local_launchers_implement_the_protocol() -> None:
    assert issubclass(ForkLauncher, Launcher) and issubclass(SubprocessLauncher, Launcher)
    assert set(COMPUTE_DECORATORS) <= set(DECORATORS)


def test_a_missing_optional_package_names_the_extra_to_install() -> None:
    entry = Backend("nowhere", "Running steps nowhere",
                    launcher="flowlib_no_such_package.launcher:Launcher", extra="nowhere")
    with pytest.raises(FlowlibError, match=r"pip install 'flowlib-platform\[nowhere\]'"):
        entry.load("launcher")
    with pytest.raises(FlowlibError, match="has no cli group"):
        entry.load("cli_group")
    with pytest.raises(FlowlibError, match="No compute backend 'argo'"):
        backends.backend("argo")


def test_the_flow_cli_imports_a_backend_only_when_its_command_is_used() -> None:
    code = """
import sys, click
from flowlib import FlowSpec, step
from flowlib.cli.commands import build_cli

class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass

group = build_cli(F)
ctx = click.Context(group)
print(group.list_commands(ctx))
print(sorted(m for m in sys.modules if m.startswith("flowlib.remote")))
print(group.get_command(ctx, "batch").name)
print("flowlib.remote.batch.cli" in sys.modules, "flowlib.remote.kubernetes.cli" in sys.modules)
"""
    env = {**os.environ, "FLOWLIB_CONFIG": "env"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env=env, check=True).stdout.splitlines()
    assert "batch" in out[0] and "kubernetes" in out[0] and "run" in out[0]
    assert out[1] == "[]"
    assert out[2:] == ["batch", "True False"]


class _Recorder:
    def __init__(self, name: str, log: list[str], fail_shutdown: bool = False) -> None:
        self.name, self.log, self.fail_shutdown = name, log, fail_shutdown

    def launch(self, spec: TaskSpec) -> Worker:
        self.log.append(f"{self.name}:launch:{spec.step}")
        return Worker(spec, 0, -1, -2)

    def closed(self, fd: int) -> None:
        self.log.append(f"{self.name}:closed:{fd}")

    def shutdown(self) -> None:
        self.log.append(f"{self.name}:shutdown")
        if self.fail_shutdown:
            raise RuntimeError("remote shutdown failed")


def test_the_router_picks_each_steps_backend_and_shuts_every_launcher_down(monkeypatch):
    log: list[str] = []
    built: list[tuple] = []

    def factory(*args):
        built.append(args)
        return _Recorder("batch", log, fail_shutdown=True)

    fake = Backend("batch", "Running steps on a test double")
    monkeypatch.setattr(Backend, "load", lambda self, piece: factory)
    monkeypatch.setattr("flowlib.runtime.router.backend", lambda name: fake)
    decorators = {"start": {}, "train": {"batch": DECORATORS["batch"]()}}
    router = LauncherRouter(_Recorder("local", log), "flow_cls", "graph", "stores", decorators)
    assert isinstance(router, Launcher)

    def spec(step: str) -> TaskSpec:
        return TaskSpec("F", "1", step, "1", 0, [], [], 100, None, [])

    router.launch(spec("start"))
    router.launch(spec("train"))
    router.launch(spec("train"))
    router.closed(7)
    with pytest.raises(RuntimeError, match="remote shutdown failed"):
        router.shutdown()
    assert len(built) == 1 and built[0] == ("flow_cls", "graph", "stores", decorators)
    assert log == ["local:launch:start", "batch:launch:train", "batch:launch:train",
                   "local:closed:7", "batch:closed:7", "local:shutdown", "batch:shutdown"]
