"""Step decorators: ``@retry``, ``@catch``, ``@timeout`` (Metaflow's names and defaults).

A decorator is a small value object attached to the step function. The runtime reads them; they
never wrap the function, so a step stays a plain method that the graph parser can read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowlib.backends import BACKENDS, compute_decorator_names
from flowlib.exceptions import FlowlibError


class StepDecorator:
    """Base class: a named set of attributes with defaults, validated on creation."""

    name = ""
    defaults: dict[str, Any] = {}

    def __init__(self, **attributes: Any) -> None:
        unknown = sorted(set(attributes) - set(self.defaults))
        if unknown:
            allowed = ", ".join(sorted(self.defaults)) or "none"
            raise FlowlibError(
                f"@{self.name} got unknown argument(s) {', '.join(unknown)}; allowed: {allowed}."
            )
        self.attributes = {**self.defaults, **attributes}
        self.validate()

    def validate(self) -> None:
        """Check attribute values; subclasses raise FlowlibError with a fix."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["attributes"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.attributes.items())
        return f"@{self.name}({args})"

    def _require_number(self, key: str, minimum: float = 0) -> None:
        value = self.attributes[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise FlowlibError(
                f"@{self.name}({key}={value!r}): {key} must be a number >= {minimum}."
            )


class RetryDecorator(StepDecorator):
    """Re-run a failed task up to ``times`` more times, waiting between attempts."""

    name = "retry"
    defaults = {"times": 3, "minutes_between_retries": 2}

    def validate(self) -> None:
        self._require_number("times")
        self._require_number("minutes_between_retries")
        if int(self.attributes["times"]) != self.attributes["times"]:
            raise FlowlibError(f"@retry(times={self.attributes['times']!r}) needs a whole number.")


class CatchDecorator(StepDecorator):
    """When every attempt failed, store the exception in ``var`` and let the flow continue."""

    name = "catch"
    defaults = {"var": None, "print_exception": True}

    def validate(self) -> None:
        var = self.attributes["var"]
        if var is not None and (not isinstance(var, str) or not var.isidentifier()):
            raise FlowlibError(f"@catch(var={var!r}): var must be an attribute name.")


class TimeoutDecorator(StepDecorator):
    """Fail an attempt that runs longer than seconds + minutes + hours."""

    name = "timeout"
    defaults = {"seconds": 0, "minutes": 0, "hours": 0}

    def validate(self) -> None:
        for key in self.defaults:
            self._require_number(key)
        if self.total_seconds <= 0:
            raise FlowlibError("@timeout needs a positive seconds=, minutes= or hours=.")

    @property
    def total_seconds(self) -> float:
        a = self.attributes
        return float(a["seconds"]) + 60.0 * float(a["minutes"]) + 3600.0 * float(a["hours"])


class ResourcesDecorator(StepDecorator):
    """What a step needs; whichever compute backend runs the step honours it."""

    name = "resources"
    defaults = {"cpu": 1, "memory": 4096, "gpu": 0, "disk": None, "shared_memory": None}

    def validate(self) -> None:
        self._require_number("cpu", 0.001)
        self._require_number("memory", 1)
        self._require_number("gpu")


class BatchDecorator(ResourcesDecorator):
    """Run the step on AWS Batch (defaults for queue, image and role come from the profile)."""

    name = "batch"
    defaults = {
        **ResourcesDecorator.defaults,
        "queue": None,
        "image": None,
        "iam_role": None,
    }


class KubernetesDecorator(ResourcesDecorator):
    """Run the step as a Kubernetes Job (namespace, service account, image from the profile)."""

    name = "kubernetes"
    defaults = {
        **ResourcesDecorator.defaults,
        "namespace": None,
        "service_account": None,
        "image": None,
        "node_selector": None,
        "tolerations": None,
    }


# Decorators that send a step to a compute backend (each backend's entry in flowlib.backends
# names its decorator); a step may have at most one.
COMPUTE_DECORATORS = compute_decorator_names()

DECORATORS: dict[str, type[StepDecorator]] = {
    cls.name: cls
    for cls in (
        RetryDecorator,
        CatchDecorator,
        TimeoutDecorator,
        ResourcesDecorator,
        BatchDecorator,
        KubernetesDecorator,
    )
}


# @secrets and @environment live in flowlib.taskenv (they only name what the task reads at
# start); imported here, after StepDecorator exists, so DECORATORS and --with know them.
from flowlib.taskenv.decorators import EnvironmentDecorator, SecretsDecorator  # noqa: E402

DECORATORS.update({cls.name: cls for cls in (SecretsDecorator, EnvironmentDecorator)})

# @pypi and @conda live in flowlib.environments (per-step Python environments); registered
# here the same way.
from flowlib.environments.decorators import CondaDecorator, PypiDecorator  # noqa: E402

DECORATORS.update({cls.name: cls for cls in (PypiDecorator, CondaDecorator)})
ENVIRONMENT_DECORATORS = (PypiDecorator.name, CondaDecorator.name)


def attach(func: Callable, decorator: StepDecorator) -> Callable:
    """Attach a decorator to a step function (works above or below ``@step``)."""
    existing = getattr(func, "decorators", None)
    if existing is None:
        existing = func.__dict__.setdefault("_pending_decorators", [])
    repeatable = getattr(decorator, "repeatable", False)  # e.g. several @card with ids
    if not repeatable and any(d.name == decorator.name for d in existing):
        raise FlowlibError(f"@{decorator.name} is applied twice to step '{func.__name__}'.")
    existing.append(decorator)
    return func


def _make(cls: type[StepDecorator]) -> Callable:
    def decorator(func: Callable | None = None, **attributes: Any) -> Any:
        if func is not None and callable(func):
            return attach(func, cls(**attributes))
        if func is not None:
            raise FlowlibError(f"@{cls.name} takes keyword arguments only, e.g. @{cls.name}().")
        instance = cls(**attributes)
        return lambda f: attach(f, instance)

    decorator.__name__ = cls.name
    decorator.__doc__ = cls.__doc__
    return decorator


retry = _make(RetryDecorator)
catch = _make(CatchDecorator)
timeout = _make(TimeoutDecorator)
resources = _make(ResourcesDecorator)
batch = _make(BatchDecorator)
kubernetes = _make(KubernetesDecorator)
secrets = _make(SecretsDecorator)
environment = _make(EnvironmentDecorator)
pypi = _make(PypiDecorator)
conda = _make(CondaDecorator)


def merge_step_decorators(
    own: list[StepDecorator], extra: list[StepDecorator]
) -> dict[str, StepDecorator]:
    """A step's effective decorators: its own win over ``--with`` ones of the same name, and a
    step that names its compute backend keeps it whatever ``--with`` says."""
    own_names = {d.name for d in own}
    pinned = any(name in COMPUTE_DECORATORS for name in own_names)
    # Likewise a step's own @pypi/@conda is its environment, whatever --with says.
    own_env = [name for name in ENVIRONMENT_DECORATORS if name in own_names]
    if len(own_env) > 1:
        raise FlowlibError("A step has one Python environment: use @pypi or @conda, not both.")
    merged = {
        d.name: d
        for d in extra
        if not (pinned and d.name in COMPUTE_DECORATORS)
        and not (own_env and d.name in ENVIRONMENT_DECORATORS)
    }
    merged.update({d.name: d for d in own})
    chosen = [name for name in COMPUTE_DECORATORS if name in merged]
    if len(chosen) > 1:
        both = " and ".join("@" + c for c in chosen)
        raise FlowlibError(f"A step can run on one compute backend only, got {both}.")
    return merged


def compute_backend(decorators: dict[str, StepDecorator]) -> str | None:
    """'batch', 'kubernetes' or None (this machine) for a step's effective decorators."""
    return next((name for name in COMPUTE_DECORATORS if name in decorators), None)


def parse_with_option(spec: str) -> StepDecorator:
    """Parse ``--with NAME[:key=value,...]`` into a decorator instance.

    A value may be a list or a dict: JSON (``vars={"A": "1"}``) or, for lists, bare items
    (``sources=[flowlib/dev/db,ssm:/flowlib/dev/token]``); commas inside brackets do not
    separate arguments.
    """
    name, _, args = spec.partition(":")
    cls = DECORATORS.get(name.strip())
    if cls is None and name.strip() in COMPUTE_DECORATORS:
        cls = BACKENDS[name.strip()].load("decorator")  # a backend's decorator kept in its folder
    if cls is None:
        known = ", ".join(sorted({*DECORATORS, *COMPUTE_DECORATORS}))
        raise FlowlibError(f"--with {spec}: unknown decorator '{name}'. Known: {known}.")
    attributes: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in _split_arguments(args))):
        key, sep, raw = pair.partition("=")
        if not sep:
            raise FlowlibError(f"--with {spec}: expected key=value, got '{pair}'.")
        attributes[key.strip()] = _parse_value(raw.strip(), spec)
    return cls(**attributes)


def _split_arguments(args: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in args:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth <= 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _parse_value(raw: str, spec: str) -> Any:
    if raw and raw[0] in "[{":
        import json

        try:
            return json.loads(raw)
        except ValueError:
            if raw.startswith("[") and raw.endswith("]"):
                items = (i.strip().strip("'\"") for i in raw[1:-1].split(","))
                return [i for i in items if i]
            raise FlowlibError(
                f"--with {spec}: {raw} is not valid JSON; quote the option, e.g. "
                "--with 'environment:vars={\"NAME\": \"value\"}'."
            ) from None
    return _parse_scalar(raw)


def _parse_scalar(raw: str) -> Any:
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(raw.lower(), raw)
