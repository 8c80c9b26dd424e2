"""``@secrets`` and ``@environment`` (Metaflow's names and arguments).

Both only *name* things: ``@secrets`` holds source names, ``@environment`` plain variables.
The task reads the values itself at start (``flowlib.taskenv.apply``), so any launcher or
orchestrator passes them through the task's spec unchanged.
"""

from __future__ import annotations

from typing import Any

from flowlib.decorators import StepDecorator
from flowlib.exceptions import FlowlibError
from flowlib.taskenv.sources import check_variable_name, parse_source, source_text


class SecretsDecorator(StepDecorator):
    """Environment variables from AWS Secrets Manager / Parameter Store, read at task start.

    ``@secrets(sources=["flowlib/dev/warehouse", "ssm:/flowlib/dev/hub-token"])``: a JSON
    secret gives one variable per key, a plain value one variable named after the secret.
    Values never leave the task process; only the source names are recorded.
    """

    name = "secrets"
    defaults = {"sources": []}

    def validate(self) -> None:
        sources = self.attributes["sources"]
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, (list, tuple)):
            raise FlowlibError(
                f"@secrets(sources={sources!r}): sources must be a list of secret names, e.g. "
                "sources=['flowlib/dev/warehouse', 'ssm:/flowlib/dev/hub-token']."
            )
        sources = [source_text(source) for source in sources]
        for source in sources:
            parse_source(source)
        if len(set(sources)) != len(sources):
            raise FlowlibError(f"@secrets(sources={list(sources)!r}) names a source twice.")
        self.attributes["sources"] = list(sources)


class EnvironmentDecorator(StepDecorator):
    """Plain (non-secret) environment variables of the step's tasks, recorded with each task.

    ``@environment(vars={"TOKENIZERS_PARALLELISM": "false"})``. Values are shown in the task's
    command and metadata: put secrets in ``@secrets``, never here.
    """

    name = "environment"
    defaults = {"vars": {}}

    def validate(self) -> None:
        variables = self.attributes["vars"]
        if not isinstance(variables, dict):
            raise FlowlibError(
                f"@environment(vars={variables!r}): vars must be a dict of NAME: value, e.g. "
                "vars={'TOKENIZERS_PARALLELISM': 'false'}."
            )
        converted: dict[str, str] = {}
        for key, value in variables.items():
            check_variable_name(str(key), "@environment")
            if isinstance(value, (dict, list, tuple, set)) or value is None:
                raise FlowlibError(
                    f"@environment: value of '{key}' must be a string or a number, got "
                    f"{type(value).__name__}."
                )
            converted[str(key)] = _as_text(value)
        self.attributes["vars"] = converted


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def task_environment_of(decorators: dict[str, StepDecorator]) -> tuple[list[str], dict[str, str]]:
    """(secret source names, plain variables) of a step's effective decorators."""
    secrets = decorators.get("secrets")
    environment = decorators.get("environment")
    return (
        list(secrets.sources) if secrets is not None else [],
        dict(environment.vars) if environment is not None else {},
    )
