"""``Config``: a flow's configuration file, read when the flow is loaded (Metaflow 2.13+).

``cfg = Config("cfg", default="config.json")`` in the class body makes the parsed file
readable at class level (``@retry(times=cfg.retries)``, ``Parameter("lr", default=cfg.lr)``)
and in steps (``self.cfg.lr``). The value is fixed for the run: it is stored with the run's
parameters (so ``run["start"].task.data.cfg`` shows what was used), and every task of the run,
forked, re-started by ``resume`` or run on Batch/Kubernetes, sees the same value.

Where the value comes from, first match wins:
1. the value the run stored, handed to its task processes in ``FLOWLIB_CONFIG_VALUES``;
2. the top-level options ``--config NAME FILE`` / ``--config-value NAME JSON``
   (``python flow.py --config cfg prod.json run``, Metaflow's spelling);
3. ``default`` (a file path, relative to the working directory) or ``default_value``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowlib.exceptions import FlowlibError

CONFIG_VALUES_ENV = "FLOWLIB_CONFIG_VALUES"


class ConfigValue(dict):
    """A parsed configuration: a dict whose keys also read as attributes (``cfg.model.lr``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(
                f"The configuration has no key '{name}'; it has: {', '.join(sorted(self))}."
            ) from None
        return ConfigValue(value) if isinstance(value, dict) else value

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        return ConfigValue(value) if isinstance(value, dict) and not isinstance(
            value, ConfigValue) else value

    def __reduce__(self) -> Any:  # stored as a plain dict subclass; loads without flowlib state
        return (ConfigValue, (dict(self),))


class Config:
    """A configuration of the flow, read once when the flow file is loaded."""

    _flowlib_config = True

    def __init__(
        self,
        name: str,
        default: str | None = None,
        default_value: Any = None,
        help: str | None = None,  # noqa: A002 - Metaflow's keyword
        required: bool = False,
        parser: Callable[[str], Any] | None = None,
        plain: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
            raise FlowlibError(f"Config name {name!r} must be a valid identifier.")
        if default is not None and default_value is not None:
            raise FlowlibError(f"Config '{name}': give default= (a file) or default_value=.")
        self.name = name
        self.default = default
        self.default_value = default_value
        self.help = help
        self.required = required
        self.parser = parser
        self.plain = plain
        self._value: Any = _UNSET

    # The value, resolved on first use (at class level that is while the class body runs).
    @property
    def value(self) -> Any:
        if self._value is _UNSET:
            self._value = self._resolve()
        return self._value

    def _resolve(self) -> Any:
        stored = os.environ.get(CONFIG_VALUES_ENV)
        if stored:
            values = json.loads(stored)
            if self.name in values:
                return self._wrap(values[self.name])
        given = _command_line().get(self.name)
        if given is not None:
            kind, text = given
            if kind == "file":
                return self._wrap(self._parse(_read(self.name, text), text))
            return self._wrap(self._parse(text, "--config-value"))
        if self.default is not None:
            path = self.default() if callable(self.default) else self.default
            if Path(path).expanduser().exists() or self.required:
                return self._wrap(self._parse(_read(self.name, path), path))
            return None
        if self.default_value is not None:
            value = self.default_value
            if isinstance(value, str):
                value = self._parse(value, "default_value")
            return self._wrap(value)
        if self.required:
            raise FlowlibError(
                f"Config '{self.name}' is required: give it with "
                f"--config {self.name} FILE (before the command), or a default=."
            )
        return None

    def _parse(self, text: str, where: str) -> Any:
        if self.parser is not None:
            return self.parser(text)
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise FlowlibError(
                f"Config '{self.name}': {where} is not valid JSON ({exc}). Fix the file, or "
                "pass parser= to read another format."
            ) from None

    def _wrap(self, value: Any) -> Any:
        return ConfigValue(value) if isinstance(value, dict) and not self.plain else value

    # Class-level and step access.
    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self.value

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"Config '{self.name}' is read-only inside a flow.")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = self.value
        if value is None:
            raise FlowlibError(
                f"Config '{self.name}' has no value, so '{self.name}.{name}' cannot be read: "
                f"create {self.default or 'its file'} or pass --config {self.name} FILE."
            )
        return getattr(value, name) if isinstance(value, ConfigValue) else value[name]

    def __getitem__(self, key: Any) -> Any:
        return self.value[key]


_UNSET = object()


def _read(name: str, path: str) -> str:
    try:
        return Path(path).expanduser().read_text()
    except OSError as exc:
        raise FlowlibError(
            f"Config '{name}': cannot read {path!r} ({exc.strerror}). Give an existing file "
            f"with --config {name} FILE."
        ) from None


def _command_line() -> dict[str, tuple[str, str]]:
    """``--config NAME FILE`` and ``--config-value NAME JSON`` given before the command."""
    from flowlib.argv import first_command_index

    args = sys.argv[1:]
    top = args[: first_command_index(args)]
    found: dict[str, tuple[str, str]] = {}
    for i, arg in enumerate(top):
        if arg in ("--config", "--config-value") and i + 2 < len(top):
            found[top[i + 1]] = ("file" if arg == "--config" else "value", top[i + 2])
    return found


def flow_configs(flow_cls: type) -> dict[str, Config]:
    """The flow's Config objects by attribute name."""
    found: dict[str, Config] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Config):
                found[attr] = value
    return found


def config_values(flow_cls: type) -> dict[str, Any]:
    """What the run stores: each config's value by attribute name."""
    return {attr: cfg.value for attr, cfg in flow_configs(flow_cls).items()}


def config_env(flow_cls: type) -> dict[str, str]:
    """Environment that gives a run's task processes the run's config values."""
    configs = flow_configs(flow_cls)
    if not configs:
        return {}
    return {CONFIG_VALUES_ENV: json.dumps({c.name: c.value for c in configs.values()})}
