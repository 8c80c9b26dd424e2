"""Environment names are checked with a full match by every command taking one, and the three
command lines share one error wrapper (no AWS needed: these fail before any call)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flowlib.cli.errors import CONTEXT_SETTINGS, missing_extra_message
from platform_cli import environments as envs
from platform_cli.errors import InvalidNameError
from platform_cli.main import COMMANDS, CONTEXT, LazyGroup, cli

BAD_NAMES = ["dev\n", "dev\r\n", "Dev", "de v", "../dev", "x", "local", "a" * 22, ""]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_invalid_names_are_refused(name: str) -> None:
    assert not envs.is_valid_name(name)
    with pytest.raises(InvalidNameError):
        envs.validate_name(name)


@pytest.mark.parametrize("name", ["dev", "ml-prod", "a1", "a" * 21])
def test_valid_names(name: str) -> None:
    assert envs.is_valid_name(name) and envs.validate_name(name) == name


def _commands_taking_env() -> list[list[str]]:
    """Every command (and subcommand) with an ENV argument."""
    found = []
    ctx = cli.make_context("platform", ["--help"], resilient_parsing=True)
    for name in COMMANDS:
        command = LazyGroup.get_command(cli, ctx, name)  # type: ignore[arg-type]
        subs = getattr(command, "commands", None)
        for path, cmd in ([([name, s], c) for s, c in subs.items()] if subs
                          else [([name], command)]):
            params = [p for p in cmd.params if isinstance(p, click.Argument)]
            if params and params[0].name == "env":
                found.append(path + ["dev\n"] + (["lock-id"] if len(params) > 1 else []))
    return found


@pytest.mark.parametrize("args", _commands_taking_env(), ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_a_name_ending_in_a_newline(args: list[str], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("PLATFORM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWLIB_CONFIG", str(tmp_path / "config.json"))
    result = CliRunner().invoke(cli, args, input="")
    assert result.exit_code == 1, result.output
    assert "Invalid environment name 'dev\\n'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "home").exists()  # refused before anything was written


def test_import_refuses_a_bad_profile_name_and_writes_nothing(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    config = tmp_path / "config.json"
    monkeypatch.setenv("FLOWLIB_CONFIG", str(config))
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"schema_version": 1, "profiles": {
        "good": {"datastore": "local"}, "Bad_Name": {"datastore": "local"}}}))
    result = CliRunner().invoke(cli, ["configure", "import", str(source)])
    assert result.exit_code == 1, result.output
    assert "Bad_Name" in result.output and "Nothing was imported" in result.output
    assert not config.exists()


def test_the_three_command_lines_share_context_and_wrapper() -> None:
    from flowlib.cli import flowlib_command as flowlib_cli
    from flowlib.cli import main as flow_main

    assert CONTEXT == CONTEXT_SETTINGS
    assert flowlib_cli.main.context_settings == CONTEXT_SETTINGS
    assert "report" in flow_main.main.__code__.co_names


def test_a_missing_extra_names_the_extra_to_install() -> None:
    message = missing_extra_message(ModuleNotFoundError(name="botocore"),
                                    {"botocore": "platform"})
    assert message is not None and "pip install 'flowlib-platform[platform]'" in message
    assert missing_extra_message(ModuleNotFoundError(name="yaml"), {"botocore": "x"}) is None
