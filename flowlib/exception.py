"""Metaflow's ``metaflow.exception`` names, for code that imports them after the import swap.

    from flowlib.exception import MetaflowException, MetaflowNamespaceMismatch

Each name is flowlib's own class (flowlib/exceptions.py) or a subclass of it, so catching the
Metaflow name catches what flowlib raises. A stored exception's type reads
``flowlib.exception.ExternalCommandFailed`` where Metaflow's reads ``metaflow.exception...``.
"""

from __future__ import annotations

from flowlib.exceptions import (
    FlowlibError,
    MergeConflictError,
    MergeMissingError,
    NamespaceMismatchError,
    NotFoundError,
    ParameterError,
    TimeoutException,
)

MetaflowException = FlowlibError
MetaflowNamespaceMismatch = NamespaceMismatchError
UnhandledInMergeArtifactsException = MergeConflictError
MissingInMergeArtifactsException = MergeMissingError
MetaflowInternalError = FlowlibError
MetaflowNotFound = NotFoundError
CommandException = FlowlibError


class ExternalCommandFailed(FlowlibError):  # noqa: N818 - Metaflow's name
    """An external command a step ran failed (Metaflow raises it; user code may too)."""


__all__ = [
    "CommandException",
    "ExternalCommandFailed",
    "MetaflowException",
    "MetaflowInternalError",
    "MetaflowNamespaceMismatch",
    "MetaflowNotFound",
    "MissingInMergeArtifactsException",
    "ParameterError",
    "TimeoutException",
    "UnhandledInMergeArtifactsException",
]
