"""Writing profiles into the config file: what ``platform init``/``apply`` do with the
Terraform stack's ``flowlib_config`` output (``profile_from_stack_output``, one profile per
project with ``project_profiles_from_stack_output``), and the file edits the ``platform``
command makes (write, remove, set the default). Every value is checked against the same schema
as when it is read (``flowlib.config``), so a written profile always loads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flowlib.config import (
    CONFIG_ENV,
    ENV_ONLY,
    SCHEMA_VERSION,
    _check_profile,
    _check_value,
    _did_you_mean,
    config_path,
    load_config,
)
from flowlib.exceptions import ConfigError

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
