"""Run parameters: ``Parameter``, ``IncludeFile`` and ``JSONType``.

Parameters are class attributes of a flow. Their values are fixed at run start, stored as
artifacts of the run's ``_parameters`` task and read-only in every step, as in Metaflow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from flowlib.exceptions import FlowlibError, ParameterError


class JSONType:
    """Marker type: the command-line value is parsed as JSON."""

    name = "JSON"


_MISSING = object()
_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", JSONType: "JSON"}
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


class Parameter:
    """A value given on the command line (``--name value``) or taken from ``default``."""

    _flowlib_parameter = True

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,  # noqa: A002 - Metaflow's keyword
        help: str | None = None,  # noqa: A002 - Metaflow's keyword
        required: bool = False,
        show_default: bool = True,
        separator: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
            raise FlowlibError(f"Parameter name {name!r} must be a valid identifier.")
        self.name = name
        self.default = default
        self.help = help
        self.required = required
        self.show_default = show_default
        self.separator = separator
        self.attr_name = name.replace("-", "_")
        self.type = self._infer_type(type, default)

    def _infer_type(self, declared: Any, default: Any) -> Any:
        if declared is not None:
            if declared not in _TYPE_NAMES and not isinstance(declared, JSONType):
                allowed = ", ".join(_TYPE_NAMES.values())
                raise FlowlibError(
                    f"Parameter '{self.name}': type {declared!r} is not supported; use {allowed}."
                )
            return JSONType if isinstance(declared, JSONType) else declared
        if default is None or callable(default):
            return str
        for candidate in (bool, int, float, str):
            if isinstance(default, candidate):
                return candidate
        return JSONType

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.type]

    def __set_name__(self, owner: type, attr_name: str) -> None:
        self.attr_name = attr_name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._read_parameter(self.attr_name)

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"Parameter '{self.name}' is read-only inside a flow.")

    def option_help(self) -> str:
        text = self.help or ""
        if self.show_default and self.default is not None and not callable(self.default):
            text += f" [default: {self.default!r}]"
        if self.required:
            text += " [required]"
        return f"({self.type_name}) {text}".strip()

    def convert(self, raw: str) -> Any:
        """Turn a command-line string into the parameter's value or raise ParameterError."""
        try:
            if self.separator is not None:
                return [self._convert_one(part) for part in raw.split(self.separator)]
            return self._convert_one(raw)
        except (ValueError, json.JSONDecodeError) as exc:
            raise ParameterError(
                f"Parameter '{self.name}' expects {self.type_name}, got {raw!r} ({exc}). "
                f"Example: --{self.name} {self._example()}"
            ) from None

    def _convert_one(self, raw: str) -> Any:
        if self.type is bool:
            lowered = raw.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError("not a boolean (use true or false)")
        if self.type is JSONType:
            return json.loads(raw)
        return self.type(raw)

    def _example(self) -> str:
        return {"str": "text", "int": "3", "float": "0.5", "bool": "true", "JSON": "'{\"a\": 1}'"}[
            self.type_name
        ]

    def env_names(self) -> list[str]:
        """Environment variables that give the value when the command line does not, in order:
        ``FLOWLIB_RUN_<NAME>``, then Metaflow's ``METAFLOW_RUN_<NAME>`` (name upper-cased,
        dashes as underscores)."""
        key = self.name.upper().replace("-", "_")
        return [f"FLOWLIB_RUN_{key}", f"METAFLOW_RUN_{key}"]

    def resolve(self, raw: str | None) -> Any:
        """The run's value: the command line's, else the environment's (``env_names``), else
        the default, as in Metaflow."""
        if raw is None:
            raw = next((os.environ[k] for k in self.env_names() if k in os.environ), None)
        if raw is not None:
            return self.convert(raw)
        if self.required and self.default is None:
            raise ParameterError(
                f"Parameter '{self.name}' is required. Give it with --{self.name} "
                f"{self._example()} or in {self.env_names()[0]}."
            )
        default = self.default() if callable(self.default) else self.default
        if isinstance(default, str) and (self.type is not str or self.separator is not None):
            return self.convert(default)
        return default


class IncludeFile(Parameter):
    """A file whose content is read at run start and stored as a versioned artifact."""

    def __init__(
        self,
        name: str,
        required: bool = False,
        is_text: bool = True,
        encoding: str = "utf-8",
        help: str | None = None,  # noqa: A002 - Metaflow's keyword
        default: str | Callable[[], str] | None = None,
    ) -> None:
        super().__init__(name, default=default, type=str, help=help, required=required)
        self.is_text = is_text
        self.encoding = encoding

    def option_help(self) -> str:
        return f"(path of a file to include) {self.help or ''}".strip()

    def resolve(self, raw: str | None) -> Any:
        path = super().resolve(raw)
        if path is None:
            return None
        file = Path(path).expanduser()
        try:
            # A device (/dev/zero), FIFO or folder would be read forever or fail obscurely.
            if file.exists() and not file.is_file():
                raise ParameterError(
                    f"IncludeFile '{self.name}': {str(file)!r} is not a regular file (a device, "
                    f"pipe or folder). Give a file with --{self.name} PATH."
                )
            data = file.read_bytes()
        except OSError as exc:
            raise ParameterError(
                f"IncludeFile '{self.name}': cannot read {str(file)!r} ({exc.strerror}). "
                f"Give an existing file with --{self.name} PATH."
            ) from None
        if not self.is_text:
            return data
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise ParameterError(
                f"IncludeFile '{self.name}': {str(file)!r} is not valid {self.encoding} ({exc}). "
                "Use is_text=False for binary files."
            ) from None


def flow_parameters(flow_cls: type) -> dict[str, Parameter]:
    """The flow's parameters by attribute name, in definition order (bases first)."""
    found: dict[str, Parameter] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Parameter):
                found[attr] = value
    return found


def flow_constants(flow_cls: type) -> dict[str, Any]:
    """The flow's class-level constants (``LIMIT = 5`` in the class body): plain values, not
    parameters, steps, methods or properties. As in Metaflow they are stored with the run's
    parameters, so every task has them as artifacts, and a step cannot assign them."""
    found: dict[str, Any] = {}
    for klass in reversed(flow_cls.__mro__):
        # FlowSpec (and any API base) carries the marker in its own body; user classes
        # inherit it. The marker keeps this layer from importing flowspec.
        if "__flowlib_api__" in vars(klass) or not getattr(klass, "__flowlib_api__", False):
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("_") or isinstance(value, Parameter) or _is_code(value):
                found.pop(attr, None)
                continue
            found[attr] = value
    return found


def _is_code(value: Any) -> bool:
    """Methods, properties, descriptors, classes and modules: not values to store."""
    return (
        callable(value)
        or isinstance(value, (property, staticmethod, classmethod, type, ModuleType))
        or hasattr(value, "__get__")
    )
