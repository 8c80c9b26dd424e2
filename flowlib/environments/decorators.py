"""``@pypi`` / ``@conda`` on a step, ``@pypi_base`` / ``@conda_base`` on the flow class
(Metaflow's names and arguments).

``packages`` maps a distribution name to a version: ``"2.2.3"`` pins it (``==2.2.3``), a
specifier (``">=1.5"``, ``"~=2.1"``, ``"<3,>=2"``) is used as written, ``""`` takes any version.
``@conda`` goes through the same uv path: its packages must be installable from PyPI (no conda
channel is used); a conda-only package fails resolution with a message saying so.
"""

from __future__ import annotations

import re
from typing import Any

from flowlib.decorators import StepDecorator
from flowlib.exceptions import FlowlibError

# PEP 508 distribution names (case-insensitive; compared normalized, PEP 503).
_NAME = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
_SPECIFIER = re.compile(r"^\s*(===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*$")
_VERSION = re.compile(r"^[A-Za-z0-9.*+!_-]+$")
_PYTHON = re.compile(r"^\d+(\.\d+){0,2}$")

# Conda package names whose PyPI distribution is named differently: @conda(packages=...)
# written for Metaflow keeps working.
CONDA_TO_PYPI = {"pytorch": "torch", "py-xgboost": "xgboost", "pytorch-cpu": "torch"}


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_of(name: str, version: str, where: str) -> str:
    """``name`` + ``version`` (as users write them in ``packages=``) as a requirement line."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise FlowlibError(
            f"{where}: {name!r} is not a package name; use the name you would give to pip, "
            "e.g. packages={'pandas': '2.2.3'}."
        )
    version = "" if version is None else str(version).strip()
    if not version:
        return name
    parts = [p.strip() for p in version.split(",")]
    if len(parts) == 1 and _VERSION.match(parts[0]):
        return f"{name}=={parts[0]}"
    if all(_SPECIFIER.match(p) for p in parts):
        return f"{name}{','.join(p.replace(' ', '') for p in parts)}"
    raise FlowlibError(
        f"{where}: version {version!r} of '{name}' is not a version or a specifier; write "
        "e.g. '2.2.3', '>=1.5' or '>=1.5,<2'."
    )


class PypiDecorator(StepDecorator):
    """The step runs in its own virtualenv with these PyPI packages, built by uv.

    ``@pypi(packages={"pandas": "2.2.3", "scikit-learn": ">=1.5"}, python="3.11")``. The
    environment is resolved into a lock once, built once per machine and reused by every task.
    """

    name = "pypi"
    defaults = {"packages": {}, "python": None, "disabled": False}
    kind = "pypi"

    def validate(self) -> None:
        where = f"@{self.name}"
        packages = self.attributes["packages"]
        if not isinstance(packages, dict):
            raise FlowlibError(
                f"{where}(packages={packages!r}): packages must be a dict of name: version, "
                "e.g. packages={'pandas': '2.2.3'}."
            )
        for name, version in packages.items():
            requirement_of(self._pypi_name(name), version, where)
        python = self.attributes["python"]
        if python is not None and not _PYTHON.match(str(python)):
            raise FlowlibError(
                f"{where}(python={python!r}): python must be a version such as '3.11'."
            )
        if python is not None:
            self.attributes["python"] = str(python)

    def _pypi_name(self, name: str) -> str:
        return name

    def requirements(self) -> dict[str, str]:
        """normalized name -> requirement line, for merging base and step decorators."""
        where = f"@{self.name}"
        out = {}
        for name, version in self.attributes["packages"].items():
            pypi_name = self._pypi_name(name)
            out[normalize_name(pypi_name)] = requirement_of(pypi_name, version, where)
        return out


class CondaDecorator(PypiDecorator):
    """Metaflow's ``@conda``, served from PyPI through uv (no conda channel is used).

    ``libraries=`` (Metaflow's older name for ``packages=``) is accepted too; well-known conda
    names that differ on PyPI (``pytorch``) are translated.
    """

    name = "conda"
    defaults = {"packages": {}, "libraries": {}, "python": None, "disabled": False}
    kind = "conda"

    def validate(self) -> None:
        libraries = self.attributes.pop("libraries") or {}
        if not isinstance(libraries, dict):
            raise FlowlibError(f"@conda(libraries={libraries!r}): libraries must be a dict.")
        packages = self.attributes["packages"]
        if isinstance(packages, dict):
            self.attributes["packages"] = {**libraries, **packages}
        super().validate()

    def _pypi_name(self, name: str) -> str:
        return CONDA_TO_PYPI.get(str(name).lower(), name)


class _FlowDecorator:
    """``@pypi_base(...)`` / ``@conda_base(...)``: the environment of every step of the flow
    (a step's own ``@pypi``/``@conda`` adds packages and may override the version)."""

    def __init__(self, cls: type[PypiDecorator]) -> None:
        self.cls = cls

    def __call__(self, flow_cls: type | None = None, **attributes: Any) -> Any:
        name = f"{self.cls.name}_base"
        if flow_cls is not None and not isinstance(flow_cls, type):
            raise FlowlibError(f"@{name} takes keyword arguments only, e.g. @{name}(...).")
        instance = self.cls(**attributes)

        def apply(target: type) -> type:
            if getattr(target, "_flowlib_environment_base", None) is not None and (
                "_flowlib_environment_base" in vars(target)
            ):
                raise FlowlibError(f"@{name} is applied twice to {target.__name__}.")
            target._flowlib_environment_base = instance  # type: ignore[attr-defined]
            return target

        return apply(flow_cls) if flow_cls is not None else apply


pypi_base = _FlowDecorator(PypiDecorator)
conda_base = _FlowDecorator(CondaDecorator)


def flow_environment_base(flow_cls: type) -> PypiDecorator | None:
    return getattr(flow_cls, "_flowlib_environment_base", None)
