"""Flow, step, parameter and tag names are checked against every store's limits before a run
starts: lint errors with file:line for names in the flow file, one clear error for tags."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from flowlib import names
from flowlib.exceptions import FlowGraphError, FlowlibError
from flowlib.graph import FlowGraph, validate
from flowlib.tags import validate_tags

LONG_STEP = "s" * 1100

FLOW_TEMPLATE = '''
from flowlib import FlowSpec, Parameter, step


class {flow}(FlowSpec):
    {param}

    @step
    def start(self):
        self.next(self.{step})

    @step
    def {step}(self):  # <-- step
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    {flow}()
'''


def _write_flow(tmp_path: Path, flow: str = "NamesFlow", step: str = "train",
                param: str = "alpha = Parameter('alpha', default=1)") -> Path:
    path = tmp_path / f"{flow[:40]}_{len(step)}.py"
    path.write_text(FLOW_TEMPLATE.format(flow=flow, step=step, param=param))
    return path


def _problems(path: Path) -> FlowGraphError:
    spec = importlib.util.spec_from_file_location(f"names_case_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    flow_cls = next(
        v for v in vars(module).values()
        if isinstance(v, type) and v.__module__ == module.__name__ and v.__name__ != "FlowSpec"
    )
    with pytest.raises(FlowGraphError) as caught:
        validate(FlowGraph(flow_cls), flow_cls)
    return caught.value


def _line_of(path: Path, marker: str) -> int:
    return next(n for n, t in enumerate(path.read_text().splitlines(), 1) if marker in t)


def test_a_1100_character_step_name_is_a_lint_error_with_file_and_line(tmp_path: Path) -> None:
    path = _write_flow(tmp_path, step=LONG_STEP)
    error = _problems(path)
    (problem,) = error.problems
    assert problem.step == LONG_STEP and problem.lineno == _line_of(path, "<-- step")
    assert f"{path.resolve()}:{problem.lineno}" in str(error)
    assert "1100 characters long; the limit is 80" in problem.message
    assert f"e.g. to '{'s' * 80}'" in problem.fix


def test_step_name_at_the_limit_passes(tmp_path: Path) -> None:
    path = _write_flow(tmp_path, step="s" * names.MAX_STEP_NAME)
    spec = importlib.util.spec_from_file_location("names_ok", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    validate(FlowGraph(module.NamesFlow), module.NamesFlow)


@pytest.mark.parametrize(
    ("flow", "words"),
    [
        ("F" * 129 + "Flow", ["133 characters long; the limit is 128", "Rename the class"]),
        ("DonnéesFlow", ["only ASCII letters", "e.g. to 'Donn_esFlow'"]),
    ],
)
def test_flow_names_are_checked(tmp_path: Path, flow: str, words: list[str]) -> None:
    path = _write_flow(tmp_path, flow=flow)
    error = _problems(path)
    (problem,) = error.problems
    assert problem.step is None and problem.lineno == _line_of(path, f"class {flow}")
    for word in words:
        assert word in str(problem)


def test_parameter_names_are_checked(tmp_path: Path) -> None:
    long = "p" * 130
    path = _write_flow(tmp_path, param=f"{long} = Parameter('{long}', default=1)")
    (problem,) = _problems(path).problems
    assert f"Parameter '{long}'" in problem.message and "the limit is 128" in problem.message


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        ("release\n", "white space"),
        ("a\nb", "'\\n'"),
        ("a\x00b", "control characters"),
        ("x" * 256, "256 characters long; the limit is 255"),
        ("\U0001f600" * 251, "1004 bytes in UTF-8"),
        ("", "cannot be empty"),
        ("\ud800", "surrogates"),
    ],
)
def test_tags_that_a_store_cannot_hold_are_refused(tag: str, words: str) -> None:
    with pytest.raises(FlowlibError, match="Invalid tag") as caught:
        validate_tags(["ok", tag])
    assert words in str(caught.value)


def test_tags_within_every_limit_pass() -> None:
    longest = "é" * 255  # 510 bytes
    assert validate_tags(["a", "team:ml", longest, "a"]) == ["a", "team:ml", longest]


def test_run_refuses_a_bad_name_before_starting(tmp_path: Path) -> None:
    """The CLI turns the lint error into one message and a non-zero exit, no traceback."""
    path = _write_flow(tmp_path, step=LONG_STEP)
    env_run = subprocess.run(
        [sys.executable, str(path), "run"], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env={"FLOWLIB_DATASTORE_ROOT": str(tmp_path / "store"),
                          "FLOWLIB_CONFIG": "env", "PATH": "/usr/bin:/bin"},
    )
    assert env_run.returncode != 0
    assert "the limit is 80" in env_run.stderr and "Traceback" not in env_run.stderr
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.db"))
    tagged = subprocess.run(
        [sys.executable, str(_write_flow(tmp_path)), "run", "--tag", "bad\ntag"], cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
        env={"FLOWLIB_DATASTORE_ROOT": str(tmp_path / "store2"), "FLOWLIB_CONFIG": "env",
             "PATH": "/usr/bin:/bin"},
    )
    assert tagged.returncode != 0
    assert "Invalid tag" in tagged.stderr and "Traceback" not in tagged.stderr
