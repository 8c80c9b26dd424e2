"""Task start: set ``@environment`` variables, read ``@secrets`` sources, mask their values.

Called by the executor after the attempt is recorded as started and before the step's code
runs, in the task process itself (forked worker, standalone command, Batch job, pod). Every
problem is a ``SecretSourceError`` naming the source, so the attempt fails before user code
with one precise sentence.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from flowlib.taskenv.masking import Masker, MaskingStream
from flowlib.taskenv.sources import SecretSourceError, parse_source, variables_from_value

# The artifact that records a task's environment: variable names and values of @environment,
# and only the *names* of @secrets sources (never a value).
RECORD_ARTIFACT = "_task_environment"


@dataclass
class AppliedEnvironment:
    """What task start changed; ``restore`` undoes it (a forked worker reuses nothing, but
    in-process callers such as tests do)."""

    variables: dict[str, str] = field(default_factory=dict)
    secret_sources: list[str] = field(default_factory=list)
    masker: Masker = field(default_factory=lambda: Masker([]))
    _previous_env: dict[str, str | None] = field(default_factory=dict)
    _previous_streams: tuple[Any, Any] | None = None

    def mask(self, text: str) -> str:
        return self.masker.mask(text)

    def record(self) -> dict[str, Any] | None:
        if not self.variables and not self.secret_sources:
            return None
        return {"vars": dict(self.variables), "secret_sources": list(self.secret_sources)}

    def restore(self) -> None:
        if self._previous_streams is not None:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            sys.stdout, sys.stderr = self._previous_streams
            self._previous_streams = None
        for key, value in self._previous_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._previous_env.clear()


def resolve_secrets(sources: list[str], reader: Any) -> dict[str, str]:
    """Read every source and merge their variables; two sources defining one variable is an
    error naming both."""
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for text in sources:
        source = parse_source(text)
        value, secret_name = reader.read(source)
        try:
            variables = variables_from_value(value, secret_name, f"@secrets: {source.label}")
        except SecretSourceError:
            raise
        except Exception as exc:  # FlowlibError from the naming rule
            raise SecretSourceError(str(exc)) from None
        for name, item in variables.items():
            if name in merged:
                raise SecretSourceError(
                    f"@secrets: variable {name} is defined by both '{origin[name]}' and "
                    f"'{source.text}'; a variable may come from one source only: rename the "
                    "key in one of them, or drop one source."
                )
            merged[name], origin[name] = item, source.text
    return merged


def apply_task_environment(
    secret_sources: list[str], variables: dict[str, str], reader: Any | None = None
) -> AppliedEnvironment:
    """Set the task's variables and secrets in ``os.environ`` and mask secret values on
    ``sys.stdout``/``sys.stderr``. Nothing is changed if any source fails."""
    secrets: dict[str, str] = {}
    if secret_sources:
        if reader is None:
            from flowlib.taskenv.fetch import SourceReader

            reader = SourceReader()
        secrets = resolve_secrets(secret_sources, reader)
        clash = sorted(set(secrets) & set(variables))
        if clash:
            raise SecretSourceError(
                f"@secrets and @environment both define {', '.join(clash)}; a variable comes "
                "from one of them only: remove it from @environment."
            )
    applied = AppliedEnvironment(dict(variables), list(secret_sources), Masker(secrets.values()))
    for key, value in {**variables, **secrets}.items():
        applied._previous_env[key] = os.environ.get(key)
        os.environ[key] = value
    if applied.masker:
        applied._previous_streams = (sys.stdout, sys.stderr)
        sys.stdout = MaskingStream(sys.stdout, applied.masker)  # type: ignore[assignment]
        sys.stderr = MaskingStream(sys.stderr, applied.masker)  # type: ignore[assignment]
    return applied


def reader_for_profile(profile: Any) -> Any:
    """A SourceReader with an AWS flowlib profile's ``aws_profile`` and region; for a local
    profile, the standard AWS environment (AWS_PROFILE, AWS_REGION, ...)."""
    from flowlib.taskenv.fetch import SourceReader

    if profile is not None and profile.is_aws:
        return SourceReader(profile["aws_profile"], profile["region"])
    return SourceReader()
