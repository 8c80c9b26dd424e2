"""The command line itself: fast start-up, help with an example everywhere, --set parsing."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from platform_cli.errors import PlatformError
from tests.platform.conftest import REPO


def test_help_starts_fast_without_heavy_imports() -> None:
    code = ("import sys, time; t = time.perf_counter(); from platform_cli.main import cli\n"
            "try:\n    cli(['--help'], prog_name='platform')\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('boto3', 'botocore', 'python_terraform', 'flowlib') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert "HEAVY []" in out
    best = min(_timed_help() for _ in range(3))
    print(f"\nplatform --help: {best:.3f}s (best of 3, a fresh interpreter each)")
    assert best < 1.0  # the target is 0.3 s; a loaded CI machine gets slack


def _timed_help() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "platform_cli.main", "--help"], cwd=REPO, check=True,
                   capture_output=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return time.perf_counter() - started


def _commands() -> list[list[str]]:
    from platform_cli.main import COMMANDS, LazyGroup, cli

    found = []
    ctx = cli.make_context("platform", ["--help"], resilient_parsing=True)
    for name in COMMANDS:
        command = LazyGroup.get_command(cli, ctx, name)  # type: ignore[arg-type]
        found.append([name])
        for sub in getattr(command, "commands", {}):
            found.append([name, sub])
    return found


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path: list[str]) -> None:
    from platform_cli.main import cli

    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output


def test_read_commands_have_json_output() -> None:
    from platform_cli.main import cli

    for path in (["status"], ["doctor"], ["env", "list"], ["env", "show"]):
        assert "--output" in CliRunner().invoke(cli, [*path, "--help"]).output


def test_set_values_are_typed() -> None:
    from platform_cli.environments import parse_set

    assert parse_set(["enable_eks=true", "max=3", "tags={\"a\":\"b\"}", "name=flow-dev",
                      "x=null"]) == {"enable_eks": True, "max": 3, "tags": {"a": "b"},
                                     "name": "flow-dev", "x": None}
    for bad in (["novalue"], ["Bad-Key=1"], ["region=eu-west-1"]):
        with pytest.raises(PlatformError):
            parse_set(bad)


def test_prod_like_names() -> None:
    from platform_cli.environments import is_prod_like

    assert all(map(is_prod_like, ["prod", "ml-prod", "prod-eu", "production", "prod2"]))
    assert not any(map(is_prod_like, ["dev", "staging", "product-dev", "ml-dev"]))
