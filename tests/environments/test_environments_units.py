"""The decorators, the environment spec and its hash, without running uv."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from flowlib import FlowSpec, conda, conda_base, pypi, pypi_base, step
from flowlib.decorators import merge_step_decorators, parse_with_option
from flowlib.environments import uv
from flowlib.environments.decorators import CondaDecorator, PypiDecorator, requirement_of
from flowlib.environments.prepare import plan
from flowlib.environments.spec import FLOWLIB_REQUIREMENTS, step_environment
from flowlib.exceptions import FlowlibError


@pytest.mark.parametrize(
    ("version", "line"),
    [("2.2.3", "x==2.2.3"), (">=1.5", "x>=1.5"), (">=1.5, <2", "x>=1.5,<2"), ("", "x"),
     (None, "x"), ("~=2.1", "x~=2.1")],
)
def test_versions_become_requirement_lines(version, line) -> None:  # noqa: ANN001
    assert requirement_of("x", version, "@pypi") == line


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"packages": ["six"]}, "packages must be a dict"),
        ({"packages": {"six pack": "1"}}, "is not a package name"),
        ({"packages": {"six": "one two"}}, "is not a version or a specifier"),
        ({"python": "three"}, "python must be a version"),
        ({"pakages": {}}, "unknown argument"),
    ],
)
def test_bad_arguments_are_refused_when_the_flow_loads(attributes, message) -> None:  # noqa: ANN001
    with pytest.raises(FlowlibError, match=message):
        PypiDecorator(**attributes)


def test_conda_takes_libraries_and_translates_conda_names() -> None:
    deco = CondaDecorator(libraries={"pytorch": "2.3"}, packages={"six": ""})
    assert deco.requirements() == {"torch": "torch==2.3", "six": "six"}


class Layered(FlowSpec):
    @pypi(packages={"six": "1.17.0", "attrs": ""}, python="3.11")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


Layered = pypi_base(packages={"six": "1.16.0", "idna": "3.7"}, python="3.10")(Layered)


def _decorators(flow_cls: type, extra: list | None = None) -> dict:
    from flowlib.graph import FlowGraph

    return {n.name: merge_step_decorators(n.decorators, extra or []) for n in FlowGraph(flow_cls)}


def test_a_step_adds_to_the_base_and_its_own_version_wins() -> None:
    decos = _decorators(Layered)
    start = step_environment(Layered, decos["start"])
    end = step_environment(Layered, decos["end"])
    assert start.requirements == ("attrs", "idna==3.7", "six==1.17.0")
    assert start.python == "3.11" and end.python == "3.10"
    assert end.requirements == ("idna==3.7", "six==1.16.0")
    assert start.key != end.key
    assert step_environment(Layered, decos["start"]).key == start.key  # stable


def test_a_steps_own_environment_wins_over_with() -> None:
    extra = [parse_with_option('pypi:packages={"six": "1.16.0"}')]

    class Own(FlowSpec):
        @conda(packages={"six": "1.17.0"})
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    decos = _decorators(Own, extra)
    assert step_environment(Own, decos["start"]).requirements == ("six==1.17.0",)
    assert step_environment(Own, decos["end"]).requirements == ("six==1.16.0",)
    with pytest.raises(FlowlibError, match="@pypi or @conda, not both"):
        merge_step_decorators([PypiDecorator(), CondaDecorator()], [])


def test_flow_decorators_refuse_positional_misuse() -> None:
    with pytest.raises(FlowlibError, match="keyword arguments only"):
        conda_base("six")


def test_a_flow_without_environments_never_runs_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    class Plain(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("uv must not run for a flow without environments")

    monkeypatch.setattr(uv, "run_uv", refuse)
    from flowlib.runtime.console import Console
    from flowlib.runtime.environments import prepare_step_environments

    assert plan(Plain, _decorators(Plain)) == {}
    assert prepare_step_environments(Plain, None, _decorators(Plain), Console(True)) == ({}, None)


def test_flowlib_requirements_mirror_pyproject() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert sorted(d.replace(" ", "") for d in declared) == sorted(FLOWLIB_REQUIREMENTS)


def test_uv_explanations_drop_warnings_and_hints() -> None:
    stderr = (
        "warning: Failed to inspect Python interpreter at `/x`\n  cause: boom\n"
        "error: No solution found\n  cause: Because six==99 ...\n\nhint: try this\n"
    )
    assert uv.explain(stderr) == "error: No solution found\n  cause: Because six==99 ..."


def test_step_functions_only_json_builds_no_environment() -> None:
    """``create --only-json`` resolves nothing (``create`` builds the bundles: tests/remote/
    stepfunctions/test_sfn_environments.py)."""
    from flowlib.remote.stepfunctions.definition import environment_bundles

    assert environment_bundles(Layered, None, _decorators(Layered), False, print) == {
        "start": "(built by create)", "end": "(built by create)"}
