"""flowlib configuration: named profiles saying where runs and artifacts are stored.

Where the settings come from, highest precedence first:

1. Environment variables ``FLOWLIB_<KEY>`` for single keys: ``FLOWLIB_DATASTORE``,
   ``FLOWLIB_DATASTORE_ROOT``, ``FLOWLIB_S3_BUCKET``, ``FLOWLIB_S3_PREFIX``,
   ``FLOWLIB_S3_KMS_KEY_ARN``, ``FLOWLIB_METADATA``, ``FLOWLIB_DYNAMODB_TABLE``,
   ``FLOWLIB_REGION``, ``FLOWLIB_AWS_PROFILE``, and the compute keys the same way
   (``FLOWLIB_BATCH_JOB_QUEUE``, ``FLOWLIB_KUBERNETES_NAMESPACE``, ``FLOWLIB_IMAGE``...; every
   key of ``KEYS`` but the ``batch_job_queues`` map).
2. The selected profile of the config file.
3. Built-in defaults: the zero-setup local profile.

The config file is ``$FLOWLIB_CONFIG`` if set, else ``${XDG_CONFIG_HOME:-~/.config}/flowlib/
config.json``. It is optional. ``FLOWLIB_CONFIG=env`` means "no file: the profile is made of
environment variables only" (what task processes and containers get, see ``profile_env``)::

    {
      "schema_version": 1,
      "default_profile": "dev",
      "profiles": {
        "dev": {
          "datastore": "s3", "s3_bucket": "acme-flowlib-dev", "s3_prefix": "flowlib",
          "s3_kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/...",
          "metadata": "dynamodb", "dynamodb_table": "acme-flowlib-dev-metadata",
          "region": "eu-west-1"
        }
      }
    }

The profile is chosen by ``FLOWLIB_PROFILE``, else the file's ``default_profile``, else
``local``. The profile ``local`` always exists (the built-in defaults) unless the file
redefines it.

Region: ``FLOWLIB_REGION``, else the profile's ``region``, else ``AWS_REGION`` /
``AWS_DEFAULT_REGION``. The profile wins over the generic AWS variables on purpose: a shell's
``AWS_REGION`` set for other work must not send flowlib to a region where its bucket and table
do not exist.

Errors (a misspelled key, a missing required key, a wrong type) are ``ConfigError``s naming the
key, the profile and where the value came from, with the closest valid key for typos.

Writing profiles (the ``platform`` command, from the Terraform stack's output) is
``flowlib.config.writing``.

This module must stay light to import: no boto3 here.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowlib.backends import BACKENDS
from flowlib.exceptions import ConfigError

LOCAL_DIR_NAME = ".flowlib"
ROOT_ENV = "FLOWLIB_DATASTORE_ROOT"
CONFIG_ENV = "FLOWLIB_CONFIG"
PROFILE_ENV = "FLOWLIB_PROFILE"
ENV_ONLY = "env"  # FLOWLIB_CONFIG=env: no config file, the profile comes from the environment
SCHEMA_VERSION = 1
DEFAULT_PROFILE = "local"

DEFAULT = "default"


@dataclass(frozen=True)
class Key:
    name: str
    kind: str  # "str", "choice", "map"
    help: str
    choices: tuple[str, ...] = ()
    default: Any = None
    env: bool = True  # settable with FLOWLIB_<NAME>

    @property
    def env_var(self) -> str:
        return f"FLOWLIB_{self.name.upper()}"


# The keys of a profile (schema version 1): the stores' and the shared compute keys here, each
# compute backend's own keys in its entry of flowlib.backends.
KEYS: dict[str, Key] = {
    k.name: k
    for k in [
        Key("datastore", "choice", "where artifacts go: local folder or S3", ("local", "s3"),
            "local"),
        Key("datastore_root", "str", "local datastore folder (default: nearest .flowlib/)"),
        Key("s3_bucket", "str", "artifact bucket (datastore s3)"),
        Key("s3_prefix", "str", "key prefix in the bucket, no leading/trailing slash", default=""),
        Key("s3_kms_key_arn", "str", "KMS key for SSE-KMS puts (the bucket may require it)"),
        Key("metadata", "choice", "where run metadata goes: local SQLite or DynamoDB",
            ("local", "dynamodb"), "local"),
        Key("dynamodb_table", "str", "metadata table (metadata dynamodb)"),
        Key("region", "str", "AWS region of the bucket and the table"),
        Key("aws_profile", "str", "AWS credentials profile (default: the AWS SDK's chain)"),
        Key("environment", "str", "environment name (from the Terraform stack)"),
        Key("task_role_arn", "str", "IAM role steps assume on Batch and EKS"),
        # Each compute backend's own keys, from its entry in flowlib.backends.
        *(Key(k.name, k.kind, k.help, env=k.env)
          for b in BACKENDS.values() for k in b.profile_keys),
        Key("ecr_repository_url", "str", "repository of the step runtime image"),
        Key("image", "str", "default step image (repository URL and tag)"),
        Key("store_retry_seconds", "str",
            "seconds S3/DynamoDB calls keep retrying through an outage (default 600, 0: off)"),
        Key("retention_keep_last", "str", "gc keeps the last N runs per flow and branch"),
        Key("retention_keep_days", "str", "gc keeps runs younger than D days"),
        Key("retention_flow_keep_last", "map", "per-flow override of retention_keep_last",
            env=False),
        Key("retention_flow_keep_days", "map", "per-flow override of retention_keep_days",
            env=False),
        Key("http_api_url", "str", "base URL of the environment's HTTP endpoint (Terraform)"),
        Key("retention_grace_hours", "str",
            "gc deletes only blobs older than this (default 168; over twice the longest run)"),
    ]
}
ENV_VARS = {k.env_var: k.name for k in KEYS.values() if k.env}


# -- the zero-setup local folder -------------------------------------------------------------
def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "flowlib"


def local_root(start: Path | None = None) -> Path:
    """The local store folder for ``start`` (default: the working directory).

    ``FLOWLIB_DATASTORE_ROOT`` wins; else the nearest ``.flowlib`` folder walking up (like git
    finds ``.git``); else a new one in the working directory.
    """
    explicit = os.environ.get(ROOT_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / LOCAL_DIR_NAME
        if candidate.is_dir():
            return candidate
    return here / LOCAL_DIR_NAME


# -- the file --------------------------------------------------------------------------------
def config_path() -> Path | None:
    """The config file path, or None with ``FLOWLIB_CONFIG=env``."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit == ENV_ONLY:
        return None
    if explicit:
        return Path(explicit).expanduser()
    return config_dir() / "config.json"


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The validated config file as a dict (an empty config when there is no file)."""
    path = path if path is not None else config_path()
    empty = {"schema_version": SCHEMA_VERSION, "default_profile": None, "profiles": {}}
    if path is None or not path.exists():
        return empty
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"flowlib config file {path} is not UTF-8 text (byte {exc.start} is "
            f"{exc.object[exc.start:exc.start + 1]!r}): it may be damaged or not a config file. "
            f"Fix or remove it, or set {CONFIG_ENV} to another file."
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"flowlib config file {path} is not valid JSON ({exc}); fix it or set "
            f"{CONFIG_ENV} to another file."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the flowlib config file {path}: {exc}") from None
    _validate_file(data, path)
    return data


def _validate_file(data: Any, path: Path) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"flowlib config file {path}: expected a JSON object at the top.")
    top = {"schema_version", "default_profile", "profiles"}
    for key in data:
        if key not in top:
            raise ConfigError(
                f"flowlib config file {path}: unknown top-level key '{key}'"
                f"{_did_you_mean(key, top)}. Valid keys: {', '.join(sorted(top))}."
            )
    version = data.get("schema_version")
    if version is None:
        raise ConfigError(
            f"flowlib config file {path}: 'schema_version' is missing; add "
            f'"schema_version": {SCHEMA_VERSION}.'
        )
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"flowlib config file {path} has schema_version {version!r}; this flowlib reads "
            f"version {SCHEMA_VERSION}. Upgrade flowlib, or rewrite the file for version "
            f"{SCHEMA_VERSION}."
        )
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"flowlib config file {path}: 'profiles' must be an object.")
    for name, profile in profiles.items():
        source = f"file:{path}#{name}"
        if not isinstance(profile, dict):
            raise ConfigError(f"Profile '{name}' ({source}) must be a JSON object.")
        for key, value in profile.items():
            _check_value(key, value, name, source)
        _check_profile(profile, name, {k: source for k in profile})
    default = data.get("default_profile")
    if default is not None and default not in profiles and default != DEFAULT_PROFILE:
        raise ConfigError(
            f"flowlib config file {path}: default_profile '{default}' is not a profile"
            f"{_did_you_mean(default, profiles)}. "
            f"Profiles: {', '.join(sorted(profiles)) or 'none'}."
        )


def _did_you_mean(word: str, choices: Any, cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_value(key: str, value: Any, profile: str, source: str) -> None:
    spec = KEYS.get(key)
    if spec is None:
        raise ConfigError(
            f"Unknown key '{key}' in profile '{profile}' ({source}){_did_you_mean(key, KEYS)}. "
            f"Valid keys: {', '.join(KEYS)}."
        )
    if value is None:
        return
    if spec.kind == "map":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(
                f"Key '{key}' in profile '{profile}' ({source}) must be an object of strings."
            )
        return
    if not isinstance(value, str):
        raise ConfigError(
            f"Key '{key}' in profile '{profile}' ({source}) must be a string, "
            f"got {type(value).__name__} {value!r}."
        )
    if spec.kind == "choice" and value not in spec.choices:
        raise ConfigError(
            f"Key '{key}' in profile '{profile}' ({source}) is '{value}'"
            f"{_did_you_mean(value, spec.choices, 0.5)}; valid values: {', '.join(spec.choices)}."
        )
    if key == "s3_prefix" and (value.startswith("/") or value.endswith("/")):
        raise ConfigError(
            f"Key 's3_prefix' in profile '{profile}' ({source}) is '{value}': write it without "
            "a leading or trailing slash."
        )


def _check_profile(values: dict[str, Any], profile: str, sources: dict[str, str]) -> None:
    """Cross-key rules: what each backend needs, and no key of a backend that is not used."""

    def where(key: str) -> str:
        return sources.get(key, DEFAULT)

    def need(key: str, because: str) -> None:
        if not values.get(key):
            raise ConfigError(
                f"Key '{key}' is missing in profile '{profile}': {because}. Add it to the "
                f"profile or set {KEYS[key].env_var}."
            )

    datastore = values.get("datastore") or "local"
    metadata = values.get("metadata") or "local"
    if datastore == "s3":
        need("s3_bucket", f"datastore is 's3' ({where('datastore')})")
    else:
        for key in ("s3_bucket", "s3_kms_key_arn"):
            if values.get(key):
                raise ConfigError(
                    f"Key '{key}' is set in profile '{profile}' ({where(key)}) but datastore is "
                    f"'local' ({where('datastore')}); set datastore to 's3' or remove '{key}'."
                )
    if metadata == "dynamodb":
        need("dynamodb_table", f"metadata is 'dynamodb' ({where('metadata')})")
    elif values.get("dynamodb_table"):
        raise ConfigError(
            f"Key 'dynamodb_table' is set in profile '{profile}' ({where('dynamodb_table')}) but "
            f"metadata is 'local' ({where('metadata')}); set metadata to 'dynamodb' or remove it."
        )
    root_from_env = where("datastore_root").startswith("env:")
    if values.get("datastore_root") and datastore != "local" and not root_from_env:
        raise ConfigError(
            f"Key 'datastore_root' is set in profile '{profile}' ({where('datastore_root')}) but "
            f"datastore is '{datastore}'; remove it."
        )


# -- the effective profile -------------------------------------------------------------------
@dataclass
class Profile:
    """The effective settings: ``values[key]`` and ``sources[key]`` (default / file / env)."""

    name: str
    values: dict[str, Any]
    sources: dict[str, str]
    path: Path | None = None
    name_source: str = DEFAULT

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)

    @property
    def is_aws(self) -> bool:
        return self.values.get("datastore") == "s3" or self.values.get("metadata") == "dynamodb"

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.name,
            "profile_source": self.name_source,
            "config_file": str(self.path) if self.path else None,
            "values": {k: {"value": v, "source": self.sources[k]} for k, v in self.values.items()},
        }


def profile_names(config: dict[str, Any] | None = None) -> list[str]:
    config = config if config is not None else load_config()
    return sorted({DEFAULT_PROFILE, *config.get("profiles", {})})


def effective_profile(name: str | None = None) -> Profile:
    """Resolve the profile ``name`` (default: FLOWLIB_PROFILE / default_profile / local)."""
    path = config_path()
    config = load_config(path)
    profiles = config.get("profiles", {})
    if name is not None:
        name_source = "argument"
    elif os.environ.get(PROFILE_ENV):
        name, name_source = os.environ[PROFILE_ENV], f"env:{PROFILE_ENV}"
    elif config.get("default_profile"):
        name, name_source = config["default_profile"], f"file:{path}#default_profile"
    else:
        name, name_source = DEFAULT_PROFILE, DEFAULT
    if path is not None and name not in profiles and name != DEFAULT_PROFILE:
        where = f"config file {path}" if path.exists() else f"config file {path} (missing)"
        raise ConfigError(
            f"Profile '{name}' (from {name_source}) is not defined in the {where}"
            f"{_did_you_mean(name, profiles)}. Profiles: {', '.join(profile_names(config))}. "
            "Create it with the platform CLI or edit the file."
        )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, spec in KEYS.items():
        if spec.default is not None:
            values[key], sources[key] = spec.default, DEFAULT
    for key, value in profiles.get(name, {}).items():
        if value is not None:
            values[key], sources[key] = value, f"file:{path}#{name}"
    for var, key in ENV_VARS.items():
        raw = os.environ.get(var)
        if raw is None:
            continue
        _check_value(key, raw, name, f"env:{var}")
        values[key], sources[key] = raw, f"env:{var}"
    if not values.get("region"):
        for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if os.environ.get(var):
                values["region"], sources["region"] = os.environ[var], f"env:{var}"
                break
    _check_profile(values, name, sources)
    profile = Profile(name, values, sources, path, name_source)
    if profile.is_aws and not values.get("region"):
        raise ConfigError(
            f"Key 'region' is missing in profile '{name}': the S3 bucket and DynamoDB table "
            "need a region. Add it to the profile or set FLOWLIB_REGION."
        )
    return profile


def profile_env(profile: Profile) -> dict[str, str]:
    """Environment that makes another process (a task, a container) resolve the same profile,
    without the config file: ``FLOWLIB_CONFIG=env``, the profile name and every scalar key."""
    env = {CONFIG_ENV: ENV_ONLY, PROFILE_ENV: profile.name}
    for key, value in profile.values.items():
        spec = KEYS[key]
        if spec.env and value not in (None, ""):
            env[spec.env_var] = str(value)
    return env
