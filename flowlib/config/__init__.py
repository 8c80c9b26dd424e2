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


# -- writing profiles (the platform CLI) -----------------------------------------------------
_STACK_KEYS = {
    "region": "region",
    "s3_bucket": "s3_bucket",
    "s3_prefix": "s3_prefix",
    "s3_kms_key_arn": "s3_kms_key_arn",
    "dynamodb_table": "dynamodb_table",
    "environment": "environment",
    "task_role_arn": "task_role_arn",
    "batch_job_queues": "batch_job_queues",
    "batch_default_job_queue": "batch_job_queue",
    "batch_job_role_arn": "batch_job_role_arn",
    "batch_execution_role_arn": "batch_execution_role_arn",
    "eks_cluster_name": "eks_cluster_name",
    "eks_cluster_endpoint": "eks_cluster_endpoint",
    "kubernetes_namespace": "kubernetes_namespace",
    "kubernetes_service_account": "kubernetes_service_account",
    "ecr_repository_url": "ecr_repository_url",
    "image": "image",
    "sfn_role_arn": "sfn_role_arn",
    "scheduler_role_arn": "scheduler_role_arn",
    "sfn_log_group_arn": "sfn_log_group_arn",
    "http_api_url": "http_api_url",
    "events_role_arn": "events_role_arn",
    "event_bus_name": "event_bus_name",
    "retention_keep_last": "retention_keep_last",
    "retention_keep_days": "retention_keep_days",
    "retention_grace_hours": "retention_grace_hours",
    "retention_flow_keep_last": "retention_flow_keep_last",
    "retention_flow_keep_days": "retention_flow_keep_days",
}


def stack_output_keys() -> dict[str, str]:
    """Keys of the Terraform ``flowlib_config`` output (stack_output_schema.json)."""
    schema = json.loads((Path(__file__).parent / "stack_output_schema.json").read_text())
    return schema["keys"]


def profile_from_stack_output(output: dict[str, Any]) -> dict[str, Any]:
    """A profile (S3 + DynamoDB) from the Terraform root stack's ``flowlib_config`` output.

    Accepts the plain object or Terraform's ``{"value": {...}}`` wrapper. Null values (features
    disabled in that environment) are left out.
    """
    if set(output) >= {"value"} and isinstance(output.get("value"), dict):
        output = output["value"]
    known = stack_output_keys()
    unknown = [k for k in output if k not in known]
    if unknown:
        raise ConfigError(
            f"Unknown key '{unknown[0]}' in the stack output{_did_you_mean(unknown[0], known)}; "
            "upgrade flowlib or check the Terraform stack's flowlib_config output."
        )
    version = output.get("schema_version", 1)
    if int(version) != 1:
        raise ConfigError(
            f"The stack output has schema_version {version}; this flowlib reads version 1."
        )
    for required in ("region", "s3_bucket", "dynamodb_table"):
        if not output.get(required):
            raise ConfigError(f"The stack output lacks '{required}'; it is required.")
    profile: dict[str, Any] = {"datastore": "s3", "metadata": "dynamodb"}
    for stack_key, key in _STACK_KEYS.items():
        value = output.get(stack_key)
        if value is not None and value != "":
            profile[key] = value
    name = output.get("environment") or "profile"
    for key, value in profile.items():
        _check_value(key, value, name, "stack output")
    _check_profile(profile, name, {})
    return profile


def project_profiles_from_stack_output(output: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One profile per isolated project of the stack (``flowlib_config.projects``), named
    ``<environment>-<project>``: the environment's profile with the project's S3 prefix,
    metadata table and task role (also the Batch job role) and Kubernetes service account, so
    steps run with it can write only that project's artifacts and runs. Empty without projects.
    """
    if set(output) >= {"value"} and isinstance(output.get("value"), dict):
        output = output["value"]
    base = profile_from_stack_output(output)
    projects = output.get("projects") or {}
    if not isinstance(projects, dict):
        raise ConfigError("The stack output's 'projects' must be an object of projects.")
    environment = output.get("environment") or "profile"
    profiles: dict[str, dict[str, Any]] = {}
    for project, keys in sorted(projects.items()):
        name = f"{environment}-{project}"
        for required in ("s3_prefix", "dynamodb_table", "task_role_arn"):
            if not isinstance(keys, dict) or not keys.get(required):
                raise ConfigError(
                    f"The stack output's project '{project}' lacks '{required}'; check the "
                    "Terraform stack's flowlib_config output."
                )
        profile = dict(base)
        profile["s3_prefix"] = keys["s3_prefix"]
        profile["dynamodb_table"] = keys["dynamodb_table"]
        profile["task_role_arn"] = keys["task_role_arn"]
        if base.get("batch_job_role_arn"):
            profile["batch_job_role_arn"] = keys["task_role_arn"]
        if keys.get("kubernetes_service_account"):
            profile["kubernetes_service_account"] = keys["kubernetes_service_account"]
        for key, value in profile.items():
            _check_value(key, value, name, "stack output")
        _check_profile(profile, name, {})
        profiles[name] = profile
    return profiles


def write_profile(name: str, profile: dict[str, Any], make_default: bool = False) -> Path:
    """Add or replace profile ``name`` in the config file (atomically); return the file path."""
    path = config_path()
    if path is None:
        raise ConfigError(f"{CONFIG_ENV}={ENV_ONLY}: there is no config file to write to.")
    if not name or not isinstance(name, str):
        raise ConfigError("A profile needs a non-empty name.")
    for key, value in profile.items():
        _check_value(key, value, name, "new profile")
    _check_profile(profile, name, {})

    def mutate(config: dict[str, Any]) -> None:
        config["schema_version"] = SCHEMA_VERSION
        config.setdefault("profiles", {})[name] = dict(profile)
        if make_default:
            config["default_profile"] = name

    return update_config(mutate)


def remove_profile(name: str) -> bool:
    """Remove profile ``name`` (and the default if it named it); True if it existed."""
    path = config_path()
    existed = path is not None and name in load_config(path).get("profiles", {})

    def mutate(config: dict[str, Any]) -> None:
        config.get("profiles", {}).pop(name, None)
        if config.get("default_profile") == name:
            config["default_profile"] = None

    if existed:
        update_config(mutate)
    return existed


def set_default_profile(name: str) -> Path:
    """Make ``name`` the profile used when FLOWLIB_PROFILE is not set."""

    def mutate(config: dict[str, Any]) -> None:
        if name not in config.get("profiles", {}):
            raise ConfigError(f"Profile '{name}' is not defined in {config_path()}.")
        config["default_profile"] = name

    return update_config(mutate)


def update_config(mutate: Any) -> Path:
    """Load the config file, apply ``mutate`` and write it back atomically (temp + rename),
    so a crash never leaves a half-written file; return its path."""
    path = config_path()
    if path is None:
        raise ConfigError(f"{CONFIG_ENV}={ENV_ONLY}: there is no config file to write to.")
    config = load_config(path)
    mutate(config)
    if config.get("default_profile") is None:
        config.pop("default_profile", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path
