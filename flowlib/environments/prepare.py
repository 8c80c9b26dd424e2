"""What a run does before its first task: every step's environment resolved and built.

Everything that can be wrong with an environment (an unknown package, a pin no release
satisfies, a python this machine does not have, an environment on a backend that cannot run
it yet) is found here, for every step at once, before the run is created: one error naming
the steps, the package and the fix. A flow with no environment decorator returns at once,
without importing or running uv.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowlib.config import ROOT_ENV
from flowlib.environments.spec import EnvironmentSpec, has_environment_decorators, step_environment
from flowlib.exceptions import FlowlibError

ENVIRONMENTS_ENV = "FLOWLIB_ENVIRONMENTS_DIR"


def environments_folder(task_env: dict[str, str]) -> Path:
    """Where locks' index and built virtualenvs live: ``$FLOWLIB_ENVIRONMENTS_DIR``, else
    ``environments/`` in the local store's folder, else ``~/.cache/flowlib/environments``."""
    explicit = os.environ.get(ENVIRONMENTS_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    if task_env.get(ROOT_ENV):
        return Path(task_env[ROOT_ENV]) / "environments"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "flowlib" / "environments"


def plan(
    flow_cls: type, decorators: dict[str, dict[str, Any]], aws_stores: bool = False
) -> dict[str, EnvironmentSpec]:
    """step -> its environment, for the steps that have one (none: empty, nothing imported)."""
    if not has_environment_decorators(flow_cls, decorators):
        return {}
    specs = {}
    for step, decos in decorators.items():
        spec = step_environment(flow_cls, decos, aws_stores)
        if spec is not None:
            specs[step] = spec
    return specs


def lock_steps(
    flow_cls: type, stores: Any, decorators: dict[str, dict[str, Any]],
    report: Callable[[str], None],
) -> tuple[dict[str, EnvironmentSpec], dict[str, Any], Path]:
    """(step -> environment, environment key -> Lock, environments folder) for a flow's steps
    (``stores`` is ``flowlib.stores.Stores``: locks go to the flow's blob store)."""
    aws = bool(stores.profile is not None and stores.profile.is_aws)
    specs = plan(flow_cls, decorators, aws_stores=aws)
    folder = environments_folder(stores.task_env)
    if not specs:
        return {}, {}, folder
    blobs = stores.artifacts(flow_cls.__name__).blobs
    return specs, resolve_locks(specs, blobs, folder, report), folder


def resolve_locks(specs: dict[str, EnvironmentSpec], blobs: Any, folder: Path,
                  report: Callable[[str], None]) -> dict[str, Any]:
    """environment key -> Lock, resolving with uv only the environments not locked yet.
    Raises one FlowlibError listing every environment that cannot be resolved."""
    from flowlib.environments import uv
    from flowlib.environments.locks import LockIndex

    index = LockIndex(folder)
    steps_of: dict[str, list[str]] = {}
    by_key: dict[str, EnvironmentSpec] = {}
    for step, spec in specs.items():
        steps_of.setdefault(spec.key, []).append(step)
        by_key[spec.key] = spec
    locks: dict[str, Any] = {}
    problems: list[str] = []
    checked_pythons: dict[str, str | None] = {}
    for key, spec in by_key.items():
        found = index.find(spec, blobs)
        if found is not None:
            locks[key] = found
            continue
        where = _steps_text(steps_of[key])
        if not spec.for_container and spec.python not in checked_pythons:
            checked_pythons[spec.python] = uv.find_python(spec.python)
        if not spec.for_container and checked_pythons[spec.python] is None:
            problems.append(
                f"{where}: python {spec.python} is not installed on this machine (flowlib runs "
                f"on {_current()}); install it, or set python= in @{spec.source} to an "
                "installed version."
            )
            continue
        report(f"Resolving environment {key[:12]} for {where} with uv...")
        try:
            platform = spec.platform if spec.for_container else None
            text = uv.compile_lock(spec.requirements_text, spec.python, platform)
        except uv.UvError as exc:
            problems.append(_resolution_problem(where, spec, str(exc)))
            continue
        locks[key] = index.store(spec, text, blobs)
    if problems:
        raise FlowlibError("\n".join(["Cannot prepare the steps' environments:", *problems]))
    return locks


def _resolution_problem(where: str, spec: EnvironmentSpec, explanation: str) -> str:
    lines = [line.strip() for line in explanation.splitlines() if line.strip()]
    lines = [re.sub(r"^(error|cause|caused by):\s*", "", line, flags=re.I) for line in lines]
    detail = ": ".join(line.rstrip(".") for line in lines) + "."
    wanted = ", ".join(spec.requirements) or "no packages"
    fix = f"fix the package name or version in @{spec.source}(packages=...)"
    if spec.source == "conda" and "not found in the package registry" in explanation:
        fix = (
            "@conda is served from PyPI here (no conda channel is used), so a conda-only "
            "package cannot be installed: use the package's PyPI name, or drop it from "
            "@conda(packages=...)"
        )
    return f"{where} (python {spec.python}; {wanted}): {detail} To fix it, {fix}."


def build_environments(
    specs: dict[str, EnvironmentSpec], locks: dict[str, Any], folder: Path,
    report: Callable[[str], None],
) -> dict[str, Path]:
    """step -> interpreter of its built environment (each distinct one built at most once)."""
    from flowlib.environments.venvs import ensure_venv

    pythons: dict[str, Path] = {}
    for spec in specs.values():
        if spec.key not in pythons:
            pythons[spec.key] = ensure_venv(folder, locks[spec.key], report)
    return {step: pythons[spec.key] for step, spec in specs.items()}


def flowlib_path(folder: Path) -> Path:
    """A folder holding only ``flowlib`` (a link to this flowlib's package): put on a task's
    PYTHONPATH it makes flowlib importable in an environment without exposing whatever else
    is installed beside flowlib here."""
    package = Path(__file__).resolve().parent.parent  # flowlib/environments/.. = flowlib
    holder = folder / "flowlib-source" / hashlib.sha256(str(package).encode()).hexdigest()[:16]
    link = holder / "flowlib"
    if not link.exists():
        holder.mkdir(parents=True, exist_ok=True)
        tmp = holder / f".flowlib.{os.getpid()}.tmp"
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(package, target_is_directory=True)
        os.replace(tmp, link)
    return holder


# Compute backends whose tasks can run in a container environment (``environments.remote``).
CONTAINER_BACKENDS = ("batch", "kubernetes")


def check_supported_backends(
    specs: dict[str, EnvironmentSpec], backend_of: dict[str, str | None]
) -> None:
    remote = sorted(
        step for step in specs if backend_of.get(step) not in (None, *CONTAINER_BACKENDS)
    )
    if remote:
        names = ", ".join(f"'{s}' (@{backend_of[s]})" for s in remote)
        raise FlowlibError(
            f"Step(s) {names} have a @pypi/@conda environment; environments run on this "
            f"machine and on {', '.join('@' + b for b in CONTAINER_BACKENDS)} so far, not on "
            "this backend yet. Run these steps on a supported backend or locally, or put "
            "their packages in the backend's image."
        )


def container_bundles(
    flow_cls: type, stores: Any, decorators: dict[str, dict[str, Any]], steps: list[str],
    report: Callable[[str], None],
) -> dict[str, str]:
    """step -> blob key of its container bundle, for those of ``steps`` with an environment
    (resolved and built at most once per environment; found in the index afterwards)."""
    from flowlib.environments.remote import ensure_bundle
    from flowlib.environments.spec import container_environment

    wanted = {s: d for s, d in decorators.items() if s in steps}
    specs = {s: container_environment(spec) for s, spec in plan(flow_cls, wanted).items()}
    if not specs:
        return {}
    folder = environments_folder(stores.task_env)
    blobs = stores.artifacts(flow_cls.__name__).blobs
    locks = resolve_locks(specs, blobs, folder, report)
    bundles: dict[str, str] = {}
    for spec in specs.values():
        if spec.key not in bundles:
            bundles[spec.key] = ensure_bundle(locks[spec.key], blobs, folder, report).key
    return {step: bundles[spec.key] for step, spec in specs.items()}


def _steps_text(steps: list[str]) -> str:
    quoted = ", ".join(f"'{s}'" for s in sorted(steps))
    return f"step {quoted}" if len(steps) == 1 else f"steps {quoted}"


def _current() -> str:
    import sys

    return f"python {sys.version_info.major}.{sys.version_info.minor}"
