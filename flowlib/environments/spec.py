"""A step's effective environment and the hash that names it.

Two steps (of any flow, in any run) whose packages, python and platform are the same share one
environment: one lock, one virtualenv. The hash covers exactly those inputs plus flowlib's own
runtime requirements (the task imports flowlib inside the environment).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from dataclasses import dataclass, replace
from typing import Any

from flowlib.environments.decorators import PypiDecorator, flow_environment_base

ENVIRONMENT_DECORATORS = ("pypi", "conda")

# What a task process needs besides the user's packages: flowlib's own dependencies (flowlib's
# source itself is put on the task's PYTHONPATH). Mirrors pyproject.toml's [project]
# dependencies; tests/environments checks that the two agree.
FLOWLIB_REQUIREMENTS = (
    "click>=8.1",
    "blake3>=0.4",
    "zstandard>=0.22",
    "jinja2>=3.1",
    "markdown-it-py>=3",
)
# And what it needs to open AWS stores (S3, DynamoDB) when the profile uses them.
FLOWLIB_AWS_REQUIREMENTS = ("boto3>=1.36", "tenacity>=8.2")


# The platform of a container (Batch): uv's --python-platform for linux x86_64 with glibc 2.28+
# (every current Debian/Ubuntu-based Python image).
CONTAINER_PLATFORM = "x86_64-manylinux_2_28"


def local_platform() -> str:
    """This machine's platform, as part of an environment's identity."""
    return f"{sys.platform}-{platform.machine().lower()}"


def current_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class EnvironmentSpec:
    """What an environment is made of; ``key`` names it everywhere (lock, venv, task record)."""

    requirements: tuple[str, ...]  # the user's, sorted by normalized name
    python: str
    platform: str
    support: tuple[str, ...] = FLOWLIB_REQUIREMENTS
    source: str = "pypi"  # "pypi" or "conda": which decorator asked (for error messages)

    @property
    def key(self) -> str:
        inputs = {
            "requirements": list(self.requirements),
            "support": list(self.support),
            "python": self.python,
            "platform": self.platform,
        }
        text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def requirements_text(self) -> str:
        return "".join(f"{line}\n" for line in (*self.requirements, *self.support))

    @property
    def for_container(self) -> bool:
        return self.platform == CONTAINER_PLATFORM

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "python": self.python,
            "platform": self.platform,
            "requirements": list(self.requirements),
        }


def step_environment(
    flow_cls: type, decorators: dict[str, Any], aws_stores: bool = False
) -> EnvironmentSpec | None:
    """The environment of a step from its effective decorators and the flow's ``@pypi_base``/
    ``@conda_base`` (None: the step runs in the launching interpreter, as without this
    feature). The step's packages add to the base's; its own version of a package wins."""
    base = flow_environment_base(flow_cls)
    own: PypiDecorator | None = next(
        (decorators[n] for n in ENVIRONMENT_DECORATORS if n in decorators), None
    )
    layers = [d for d in (base, own) if d is not None and not d.attributes.get("disabled")]
    if own is not None and own.attributes.get("disabled"):
        return None
    if not layers:
        return None
    requirements: dict[str, str] = {}
    python = None
    for layer in layers:
        requirements.update(layer.requirements())
        python = layer.attributes.get("python") or python
    support = FLOWLIB_REQUIREMENTS + (FLOWLIB_AWS_REQUIREMENTS if aws_stores else ())
    return EnvironmentSpec(
        requirements=tuple(requirements[name] for name in sorted(requirements)),
        python=python or current_python(),
        platform=local_platform(),
        support=support,
        source=layers[-1].kind,
    )


def has_environment_decorators(flow_cls: type, decorators: dict[str, dict[str, Any]]) -> bool:
    """Cheap check (no uv, no import of the resolution code) that a run needs environments."""
    if flow_environment_base(flow_cls) is not None:
        return True
    return any(n in d for d in decorators.values() for n in ENVIRONMENT_DECORATORS)


def container_environment(spec: EnvironmentSpec) -> EnvironmentSpec:
    """The same environment for a container: resolved for linux x86_64 and the step's python,
    with what a remote task needs to open S3 and DynamoDB."""
    return replace(
        spec, platform=CONTAINER_PLATFORM, support=FLOWLIB_REQUIREMENTS + FLOWLIB_AWS_REQUIREMENTS
    )
