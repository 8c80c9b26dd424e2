"""A deployed flow's parameters, recorded at ``create`` time, and request values checked
against them without importing the flow file (the HTTP endpoint, ``flowlib.http_api``).

``create`` writes one spec per ``Parameter`` into the deployment record (``Record.parameters``):
name, attribute, type name (``str``, ``int``, ``float``, ``bool``, ``JSON``), whether it is
required, its list separator and whether it is an ``IncludeFile``. ``check_values`` turns a
JSON object of values into the run's parameter values by attribute name, with the rules:

* a value is given by the parameter's name (``learning-rate``, also ``learning_rate``) or its
  attribute name; any other name is an error naming it and listing the known ones;
* JSON types are taken as they are, never converted from strings: ``int`` wants a JSON integer,
  ``float`` a number, ``bool`` ``true``/``false``, ``str`` a string, ``JSON`` anything; a
  parameter with a ``separator`` wants a list of such values (or one string, split as on the
  command line);
* ``null`` means "not given" (the deployed default applies);
* an ``IncludeFile`` names a file on the caller's machine, so it cannot be given over HTTP.

Every problem is collected; the error names each parameter at fault.
"""

from __future__ import annotations

from typing import Any

from flowlib.exceptions import ParameterError
from flowlib.parameters import IncludeFile, flow_parameters

_JSON_NAMES = {"str": "a string", "int": "an integer", "float": "a number",
               "bool": "true or false", "JSON": "any JSON value"}


def parameter_specs(flow_cls: type) -> list[dict[str, Any]]:
    """What the deployment record keeps of each parameter (sorted by name)."""
    specs = []
    for attr, param in flow_parameters(flow_cls).items():
        specs.append({
            "name": param.name,
            "attr": attr,
            "type": param.type_name,
            "required": bool(param.required and param.default is None),
            "separator": param.separator,
            "file": isinstance(param, IncludeFile),
        })
    return sorted(specs, key=lambda s: s["name"])


class InputError(ParameterError):
    """Request values that do not fit the deployed parameters; ``names`` are those at fault."""

    def __init__(self, problems: list[str], names: list[str]) -> None:
        self.names = names
        super().__init__(" ".join(problems))


def check_values(specs: list[dict[str, Any]], given: Any) -> dict[str, Any]:
    """The run's parameter values (by attribute name) from a JSON object, or InputError."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InputError(["'parameters' must be a JSON object of name: value, e.g. "
                          '{"parameters": {"alpha": 0.5}}.'], [])
    by_name: dict[str, dict[str, Any]] = {}
    for spec in specs:
        by_name[spec["name"]] = spec
        by_name.setdefault(spec["name"].replace("-", "_"), spec)
        by_name.setdefault(spec["attr"], spec)
    problems: list[str] = []
    names: list[str] = []
    values: dict[str, Any] = {}
    for name, value in given.items():
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(sorted(s["name"] for s in specs)) or "none"
            problems.append(f"Unknown parameter '{name}' (the deployed flow's parameters: "
                            f"{known}).")
            names.append(name)
            continue
        if value is None:
            continue
        if spec["file"]:
            problems.append(f"Parameter '{spec['name']}' is an IncludeFile (a file on the "
                            "caller's machine): it cannot be given over HTTP; its deployed "
                            "default applies when it is left out.")
            names.append(spec["name"])
            continue
        try:
            values[spec["attr"]] = _convert(spec, value)
        except ValueError as exc:
            problems.append(f"Parameter '{spec['name']}' expects {exc}, got "
                            f"{_show(value)}.")
            names.append(spec["name"])
    for spec in specs:
        if spec["required"] and spec["attr"] not in values and spec["name"] not in names:
            problems.append(f"Parameter '{spec['name']}' is required.")
            names.append(spec["name"])
    if problems:
        raise InputError(problems, names)
    return values


def _convert(spec: dict[str, Any], value: Any) -> Any:
    separator = spec.get("separator")
    if separator is None:
        return _one(spec["type"], value)
    if isinstance(value, str):
        value = value.split(separator)
        if spec["type"] != "str":  # as on the command line: each part is parsed
            return [_from_text(spec["type"], part) for part in value]
    if not isinstance(value, list):
        raise ValueError(f"a list of {_JSON_NAMES[spec['type']]} (or one string separated "
                         f"by {separator!r})")
    return [_one(spec["type"], item) for item in value]


def _one(type_name: str, value: Any) -> Any:
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "JSON": True,
    }[type_name]
    if not ok:
        raise ValueError(_JSON_NAMES[type_name])
    return float(value) if type_name == "float" else value


def _from_text(type_name: str, text: str) -> Any:
    import json

    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(_JSON_NAMES[type_name]) from None
    return _one(type_name, parsed)


def _show(value: Any) -> str:
    import json

    text = json.dumps(value)
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), "a value")
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
