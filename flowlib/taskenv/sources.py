"""Secret source names, and the rule that turns a secret's value into environment variables.

A source is one string:

* ``flowlib/dev/warehouse`` or ``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME...``: an
  AWS Secrets Manager secret, by name or ARN;
* ``ssm:/team/db/url`` or ``arn:aws:ssm:REGION:ACCOUNT:parameter/team/db/url``: an AWS
  Systems Manager Parameter Store parameter (``SecureString``, ``String`` or ``StringList``);
* Metaflow's mapping form, ``{"type": "aws-secrets-manager", "id": NAME}`` (a Secrets Manager
  secret) or ``{"type": "inline", "id": ..., "options": {"env_vars": {"KEY": "value"}}}``
  (values written in the flow, for tests; they travel in the task's command line). The
  decorator keeps a mapping as its JSON text, so a source is always one string.

The naming rule (documented in the README, section "Secrets and environment variables"):

* a value that is a JSON object becomes one variable per key, named exactly as the key; keys
  must be valid variable names (letters, digits, ``_``, not starting with a digit);
  string values are used as they are, other JSON values as their JSON text (``5432``, ``true``);
* any other value becomes one variable named after the last ``/``-separated part of the
  secret's name, upper-cased, with every character other than a letter, digit or ``_``
  replaced by ``_`` (``flowlib/dev/hub-token`` gives ``HUB_TOKEN``, ``ssm:/team/db/url``
  gives ``URL``);
* a value that starts with ``{`` must be a JSON object: a broken one is an error, never
  silently turned into one variable holding the JSON text.

Variables starting with ``FLOWLIB_`` or ``AWS_`` are refused: they would change the stores
and credentials of the task itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from flowlib.exceptions import FlowlibError

SECRETS_MANAGER = "secretsmanager"
PARAMETER_STORE = "ssm"
INLINE = "inline"
SSM_PREFIX = "ssm:"
RESERVED_PREFIXES = ("FLOWLIB_", "AWS_")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):(?P<service>[\w-]+):(?P<region>[\w-]*):"
                  r"(?P<account>\d*):(?P<resource>.+)$")
# What AWS accepts as a Secrets Manager name and a Parameter Store name.
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_PARAMETER_NAME = re.compile(r"^/?[A-Za-z0-9_.\-/]{1,1011}$")


class SecretSourceError(FlowlibError):
    """A secret source cannot be read, or its value cannot become environment variables.

    Raised at task start, before user code runs; the message names the source.
    """


@dataclass(frozen=True)
class SecretSource:
    """One parsed source: which service holds it and the id to ask that service for."""

    text: str  # as the user wrote it (what is recorded and shown)
    service: str  # SECRETS_MANAGER or PARAMETER_STORE
    ident: str  # SecretId for Secrets Manager, Name (or ARN) for Parameter Store
    region: str | None = None  # from an ARN; otherwise the task's region

    @property
    def label(self) -> str:
        if self.service == INLINE:
            return f"inline source '{self.text}'"
        what = "Secrets Manager secret" if self.service == SECRETS_MANAGER else "SSM parameter"
        return f"{what} '{self.text}'"


def source_text(source: object) -> object:
    """A source as the decorator keeps it: a mapping (Metaflow's form) as its JSON text."""
    return json.dumps(source, sort_keys=True) if isinstance(source, dict) else source


def _parse_mapping(text: str) -> SecretSource:
    try:
        spec = json.loads(text)
    except ValueError:
        spec = None
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == INLINE:
        env_vars = (spec.get("options") or {}).get("env_vars")
        if isinstance(env_vars, dict) and env_vars and all(
                isinstance(k, str) and isinstance(v, str) for k, v in env_vars.items()):
            return SecretSource(f"inline:{spec.get('id', '')}", INLINE,
                                json.dumps(env_vars, sort_keys=True))
    elif kind in ("aws-secrets-manager", None) and isinstance(spec, dict) and "id" in spec:
        source = parse_source(spec["id"])
        if source.service == SECRETS_MANAGER:
            return source
    raise FlowlibError(
        "@secrets: a source given as a mapping is {'type': 'aws-secrets-manager', 'id': NAME} "
        "or {'type': 'inline', 'id': ID, 'options': {'env_vars': {'KEY': 'value'}}} (string "
        "keys and values)."
    )


def parse_source(text: object) -> SecretSource:
    """Parse one source string; raise FlowlibError saying what a valid one looks like."""
    text = source_text(text)
    if isinstance(text, str) and text.startswith("{"):
        return _parse_mapping(text)
    if not isinstance(text, str) or not text.strip() or text != text.strip():
        raise FlowlibError(
            f"@secrets: source {text!r} is not a secret name; use a Secrets Manager name or "
            "ARN (flowlib/dev/warehouse) or a Parameter Store name (ssm:/team/db/url)."
        )
    arn = _ARN.match(text)
    if arn:
        service, region = arn["service"], arn["region"] or None
        if service == "secretsmanager" and arn["resource"].startswith("secret:"):
            return SecretSource(text, SECRETS_MANAGER, text, region)
        if service == "ssm" and arn["resource"].startswith("parameter/"):
            return SecretSource(text, PARAMETER_STORE, text, region)
        raise FlowlibError(
            f"@secrets: source '{text}' is an ARN of neither a Secrets Manager secret "
            "(arn:aws:secretsmanager:...:secret:NAME) nor an SSM parameter "
            "(arn:aws:ssm:...:parameter/NAME)."
        )
    if text.startswith(SSM_PREFIX):
        name = text[len(SSM_PREFIX):]
        if not _PARAMETER_NAME.match(name):
            raise FlowlibError(
                f"@secrets: '{text}' is not a valid Parameter Store name; write ssm: followed "
                "by the parameter's name, e.g. ssm:/team/db/url (letters, digits, _ . - /)."
            )
        return SecretSource(text, PARAMETER_STORE, name)
    if not _SECRET_NAME.match(text):
        raise FlowlibError(
            f"@secrets: '{text}' is not a valid Secrets Manager name (letters, digits and "
            "/_+=.@- only); for Parameter Store write ssm:/NAME."
        )
    return SecretSource(text, SECRETS_MANAGER, text)


def single_variable_name(secret_name: str) -> str:
    """The variable a plain (non-JSON) value becomes: see the module's naming rule."""
    last = secret_name.rstrip("/").rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9_]", "_", last).upper()
    return f"_{name}" if name[:1].isdigit() else name


def check_variable_name(name: str, where: str) -> None:
    if not _ENV_NAME.match(name):
        raise FlowlibError(
            f"{where}: '{name}' is not a valid environment variable name; use letters, digits "
            "and _ only, not starting with a digit."
        )
    if name.upper().startswith(RESERVED_PREFIXES):
        raise FlowlibError(
            f"{where}: variable '{name}' is reserved (FLOWLIB_* and AWS_* configure the task's "
            "own stores and credentials); rename it."
        )


def variables_from_value(value: str, secret_name: str, where: str) -> dict[str, str]:
    """The environment variables one secret value defines (the module's naming rule).

    ``secret_name`` is the secret's own name (for the single-variable case); ``where`` names
    the source in error messages.
    """
    if value.lstrip().startswith("{"):
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise FlowlibError(
                f"{where}: the value starts with '{{' but is not valid JSON ({exc.msg} at line "
                f"{exc.lineno}, column {exc.colno}); store a JSON object of KEY: value pairs, "
                "or a plain value that does not start with '{'."
            ) from None
        if not isinstance(data, dict) or not data:
            raise FlowlibError(f"{where}: the JSON value must be a non-empty object of keys.")
        result: dict[str, str] = {}
        for key, item in data.items():
            check_variable_name(key, f"{where}, key '{key}'")
            result[key] = item if isinstance(item, str) else json.dumps(item)
        return result
    name = single_variable_name(secret_name)
    check_variable_name(name, f"{where} (a plain value is named after the secret)")
    return {name: value}
