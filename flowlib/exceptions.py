"""Errors flowlib raises for users.

Every error a user can cause is a ``FlowlibError``: its message says what is wrong and how to
fix it, and the command line prints it as one line on stderr with a non-zero exit. Tracebacks are
reserved for bugs in flowlib and for the user's own step code.
"""

from __future__ import annotations

from dataclasses import dataclass


class FlowlibError(Exception):
    """A user-facing error: the message is complete and actionable."""

    exit_code = 1


class FlowGraphError(FlowlibError):
    """The flow's graph is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[GraphProblem]) -> None:
        self.problems = problems
        lines = [f"The flow graph has {len(problems)} problem(s):"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class GraphProblem:
    """One problem in a flow graph, located at a step, file and line."""

    step: str | None
    file: str
    lineno: int
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.lineno}"
        step = f"step '{self.step}': " if self.step else ""
        return f"{where}: {step}{self.message} Fix: {self.fix}"


class ParameterError(FlowlibError):
    """A parameter value given on the command line is missing or has the wrong type."""

    exit_code = 2


class ArtifactError(FlowlibError):
    """An artifact cannot be stored or read back."""


class CorruptArtifactError(ArtifactError):
    """A stored object's bytes do not match its content hash."""


class MetadataError(FlowlibError):
    """The metadata store is missing, unreadable or inconsistent."""


class NotFoundError(FlowlibError):
    """A flow, run, step, task or artifact does not exist (or is outside the namespace)."""


class NamespaceMismatchError(NotFoundError):
    """A run exists but outside the current namespace (Metaflow's MetaflowNamespaceMismatch)."""


class ConfigError(FlowlibError):
    """The flowlib configuration is invalid."""


class TaskFailedError(FlowlibError):
    """A step of a run failed; the message names the task and the cause."""


class MergeArtifactsError(FlowlibError):
    """``merge_artifacts`` found artifacts whose values differ between the join's inputs."""

    def __init__(self, message: str, artifact_names: list[str]) -> None:
        super().__init__(message)
        self.artifact_names = artifact_names


class MergeConflictError(MergeArtifactsError):
    """Artifacts differ between the join's inputs (Metaflow's
    UnhandledInMergeArtifactsException)."""


class MergeMissingError(MergeArtifactsError):
    """``include=`` names artifacts no input has (Metaflow's MissingInMergeArtifactsException)."""


class ReadOnlyArtifactError(FlowlibError, AttributeError):
    """A step assigned a name it cannot: a class-level constant. An ``AttributeError`` too, as
    Metaflow raises for it."""


class TimeoutException(Exception):  # noqa: N818 - Metaflow's name
    """Raised inside a step that ran longer than its @timeout (Metaflow's name)."""
