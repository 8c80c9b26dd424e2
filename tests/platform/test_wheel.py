"""The built wheel is the product: installed into a fresh virtualenv, with no checkout in
reach, ``platform`` finds the Terraform stack it ships, provisions an environment on a moto
server, and a flow runs on it.

One module-scoped fixture pays for everything once: build the wheel from a copy of the tracked
files (the copy is deleted before anything runs), one venv (pip's cache is reused; nothing is
downloaded on a warm machine), install without extras (to see the missing-extra message), then
with the ``platform`` extra. The environment is small (no VPC, Batch, ECR or flow logs) because the
apply cycle is tested in test_e2e.py; this test is about what the wheel contains.

Test doubles, as in test_e2e.py: moto for AWS, and the two moto overrides of
``conftest.MOTO_OVERRIDES`` written into the installed stack's copy (moto evaluates bucket
policies without their conditions; see conftest). ``platform`` itself still finds its stack
through its package data: ``PLATFORM_TERRAFORM_DIR`` is not set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.platform.conftest import (
    MOTO_OVERRIDES,
    MOTO_SETS,
    REPO,
    STATE_BUCKET,
    Platform,
    base_env,
    brought_state_bucket,
)

ENV = "wheel"
SMALL_STACK = ["--set", "enable_batch=false", "--set", "create_ecr_repository=false",
               "--set", "enable_flow_logs=false", "--set", "create_vpc=false"]
PIP = ["-m", "pip", "--disable-pip-version-check", "-q"]


@dataclass
class Installed:
    venv: Path
    work: Path
    env: dict[str, str]
    wheel: Path
    platform: Platform
    timings: dict[str, float] = field(default_factory=dict)
    without_extra: subprocess.CompletedProcess[str] | None = None

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), env=self.env, cwd=self.work, capture_output=True,
                              text=True, timeout=timeout, input="")


def _tracked_copy(destination: Path) -> Path:
    """The files git tracks (symlinks kept), as a clean clone would have them."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source, target = REPO / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)
    return destination


def _timed(timings: dict[str, float], name: str, started: float) -> None:
    timings[name] = round(time.monotonic() - started, 1)


@pytest.fixture(scope="module")
def installed(moto_server: Any, tf_mirror: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    tmp = tmp_path_factory.mktemp("wheel")
    timings: dict[str, float] = {}
    started = time.monotonic()
    source = _tracked_copy(tmp / "source")
    subprocess.run([sys.executable, *PIP, "wheel", "--no-deps", "-w", str(tmp / "dist"),
                    str(source)], check=True, capture_output=True, text=True, timeout=600)
    shutil.rmtree(source)
    (wheel,) = (tmp / "dist").glob("flowlib_platform-*.whl")
    _timed(timings, "build", started)

    started = time.monotonic()
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    subprocess.run([python, *PIP, "install", str(wheel)], check=True, timeout=600)
    _timed(timings, "venv+install", started)

    work = tmp / "work"  # the current directory of every command: no checkout in it
    work.mkdir()
    env = base_env(tmp, moto_server.url, tf_mirror)
    env.pop("PYTHONPATH")
    env["PYTHONNOUSERSITE"] = "1"
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    platform = Platform(env, tmp / "platform-home", Path(env["FLOWLIB_CONFIG"]), moto_server)
    result = Installed(venv, work, env, wheel, platform, timings)
    result.without_extra = result.run(str(venv / "bin" / "platform"), "init", ENV, "--yes")

    started = time.monotonic()
    subprocess.run([python, *PIP, "install", f"{wheel}[platform]"], check=True, timeout=600)
    _timed(timings, "install extra", started)
    stack = Path(result.run(python, "-c", "import platform_cli, os; print(os.path.dirname("
                            "platform_cli.__file__))").stdout.strip()) / "terraform"
    for relative, text in MOTO_OVERRIDES.items():
        (stack / relative).write_text(text)
    brought_state_bucket(platform)
    yield result
    print(f"\nwheel test timings (s): {json.dumps(timings)}")


def test_nothing_comes_from_the_checkout(installed: Installed) -> None:
    shown = installed.run(installed.python, "-c",
                          "import flowlib, platform_cli, sys; print(flowlib.__file__); "
                          "print(platform_cli.__file__); print(sys.path)")
    assert shown.returncode == 0, shown.stderr
    for line in shown.stdout.splitlines()[:2]:
        assert line.startswith(str(installed.venv)), line
    assert str(REPO) not in shown.stdout


def test_without_its_extra_platform_names_the_extra(installed: Installed) -> None:
    result = installed.without_extra
    assert result is not None
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "pip install 'flowlib-platform[platform]'" in result.stderr, result.stderr
    assert result.stderr.count("platform: error: ") == 1, result.stderr


def test_init_from_the_wheel_then_a_flow_runs(installed: Installed) -> None:
    started = time.monotonic()
    init = installed.run(str(installed.venv / "bin" / "platform"), "init", ENV, "--yes",
                         *MOTO_SETS, *SMALL_STACK)
    _timed(installed.timings, "platform init", started)
    assert init.returncode == 0, init.stdout + init.stderr
    # The stack came from the installed package, copied into the environment's working copy.
    assert (installed.platform.home / "envs" / ENV / "stack" / "modules" / "kms"
            / "main.tf").is_file()
    schema = (installed.platform.home / "envs" / ENV / "stack" / "modules" / "metadata"
              / "table_schema.json")
    assert not schema.is_symlink() and json.loads(schema.read_text())["hash_key"]

    flow = installed.work / "small_flow.py"
    shutil.copy(REPO / "tests" / "aws" / "flows" / "small_flow.py", flow)
    started = time.monotonic()
    run = installed.run(installed.python, str(flow), "run")
    _timed(installed.timings, "flow run", started)
    assert run.returncode == 0, run.stdout + run.stderr
    read_back = installed.run(installed.python, "-c",
                              "from flowlib import Flow; r = Flow('SmallFlow').latest_run; "
                              "print(r.successful, r.data.greeting)")
    assert read_back.stdout.split() == ["True", "hello"], read_back.stdout + read_back.stderr
    profile = installed.platform.profiles()["profiles"][ENV]
    assert profile["s3_bucket"] != STATE_BUCKET
    keys = installed.platform.client("s3").list_objects_v2(Bucket=profile["s3_bucket"])
    assert keys.get("KeyCount", 0) > 0
