"""A task attempt to run: everything the executor needs besides the flow code and the stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowlib.runtime.state import ForeachFrame


@dataclass
class TaskSpec:
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    input_paths: list[str]
    frames: list[ForeachFrame]
    max_num_splits: int = 100
    origin_run_id: str | None = None
    tags: list[str] = field(default_factory=list)
    # Set for @catch's fallback attempt: the error of the last real attempt.
    caught_error: dict[str, Any] | None = None
    # The compute backend re-runs this attempt after an infrastructure failure.
    restart: bool = False
    # @secrets source names and @environment variables (never secret values): read by the
    # task itself at start, so every launcher and orchestrator passes them on unchanged.
    secret_sources: list[str] = field(default_factory=list)
    env_vars: dict[str, str] = field(default_factory=dict)
    # @timeout's limit: the step gets a TimeoutException raised inside it at this many seconds.
    timeout_seconds: float | None = None
    # Last attempt of a step with @catch: an exception of the step is handled in the task,
    # keeping what the step set before it (as Metaflow does); ``catch_var`` receives it.
    catch_in_step: bool = False
    catch_var: str | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    def command_args(self) -> list[str]:
        """Arguments of ``python flow.py step ...`` that run this attempt standalone."""
        args = [
            "step",
            self.step,
            "--run-id",
            self.run_id,
            "--task-id",
            self.task_id,
            "--attempt",
            str(self.attempt),
            "--max-num-splits",
            str(self.max_num_splits),
        ]
        if self.caught_error is not None:
            args.append("--catch-fallback")
        for source in self.secret_sources:
            args += ["--secret-source", source]
        for name, value in sorted(self.env_vars.items()):
            args += ["--env-var", f"{name}={value}"]
        if self.timeout_seconds is not None:
            args += ["--timeout", repr(self.timeout_seconds)]
        if self.catch_in_step:
            args.append("--catch-in-step")
        if self.catch_var:
            args += ["--catch-var", self.catch_var]
        return args
