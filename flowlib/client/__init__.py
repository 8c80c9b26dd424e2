"""Inspect past runs from a notebook or script: ``Flow("Name").latest_run.data``."""

from flowlib.client.artifacts import DataArtifact
from flowlib.client.metaflow_names import Metaflow, get_metadata, metadata
from flowlib.client.namespace import default_namespace, get_namespace, namespace
from flowlib.client.objects import Flow, Run, Step, Task
from flowlib.datastore.safe_load import safe_load

__all__ = [
    "DataArtifact",
    "Flow",
    "Metaflow",
    "Run",
    "Step",
    "Task",
    "default_namespace",
    "get_namespace",
    "get_metadata",
    "metadata",
    "namespace",
    "safe_load",
]
