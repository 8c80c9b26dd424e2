"""flowlib: write flows as Python classes, run them locally or on the team's AWS platform.

Everything a flow or a notebook needs is importable from here, with Metaflow's names.
The client API is imported lazily so that ``import flowlib`` in a task stays cheap.
"""

from __future__ import annotations

from typing import Any

from flowlib.cards.decorator import card
from flowlib.current import current
from flowlib.decorators import (
    batch,
    catch,
    conda,
    environment,
    kubernetes,
    pypi,
    resources,
    retry,
    secrets,
    timeout,
)
from flowlib.environments.decorators import conda_base, pypi_base
from flowlib.events import Event
from flowlib.flow_config import Config, ConfigValue
from flowlib.flow_decorators import project, schedule
from flowlib.flowspec import FlowSpec, step
from flowlib.parameters import IncludeFile, JSONType, Parameter
from flowlib.trigger_decorators import trigger, trigger_on_finish
from flowlib.version import __version__

_CLIENT = {
    "Flow",
    "Run",
    "Step",
    "Task",
    "DataArtifact",
    "namespace",
    "get_namespace",
    "default_namespace",
    "Metaflow",
    "get_metadata",
    "metadata",
}
# Programmatic runs and deployments (flowlib/api), imported on use like the client.
_API = {"Runner", "Deployer"}

__all__ = [
    "FlowSpec",
    "step",
    "Parameter",
    "IncludeFile",
    "JSONType",
    "Config",
    "ConfigValue",
    "current",
    "retry",
    "catch",
    "timeout",
    "resources",
    "batch",
    "kubernetes",
    "secrets",
    "environment",
    "pypi",
    "pypi_base",
    "conda",
    "conda_base",
    "schedule",
    "project",
    "trigger",
    "trigger_on_finish",
    "Event",
    "card",
    *sorted(_CLIENT),
    *sorted(_API),
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _CLIENT:
        from flowlib import client

        return getattr(client, name)
    if name in _API:
        from flowlib import api

        return getattr(api, name)
    raise AttributeError(f"module 'flowlib' has no attribute '{name}'")
