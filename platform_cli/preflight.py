"""Checks made before anything is created: who am I, where, with which Terraform.

Each check returns a line for the user; a failure raises a ``PlatformError`` naming the fix.
Nothing here changes anything in the account.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_cli.errors import CredentialsError, PlatformError, TerraformMissingError

MIN_TERRAFORM = (1, 5, 0)  # the root stack's required_version
S3_LOCKING_TERRAFORM = (1, 10, 0)  # use_lockfile (S3-native locking)


@dataclass
class Identity:
    account_id: str
    arn: str
    region: str


def aws_session(region: str | None = None) -> Any:
    import boto3

    return boto3.session.Session(region_name=region)


def resolve_region(explicit: str | None, recorded: str | None = None) -> str:
    region = explicit or recorded or os.environ.get("AWS_REGION") or os.environ.get(
        "AWS_DEFAULT_REGION")
    if not region:
        try:
            region = aws_session().region_name
        except Exception:  # noqa: BLE001 - a broken AWS config file: same message below
            region = None
    if not region:
        raise PlatformError("No AWS region: pass --region (e.g. --region eu-west-1) or set "
                            "AWS_REGION.")
    if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", region):
        raise PlatformError(f"'{region}' does not look like an AWS region (e.g. us-east-1).")
    return region


def who_am_i(region: str, expected_account: str | None = None) -> Identity:
    """STS GetCallerIdentity; clear messages for missing, expired and wrong-account keys."""
    import botocore.exceptions

    try:
        sts = aws_session(region).client("sts")
        found = sts.get_caller_identity()
    except (botocore.exceptions.NoCredentialsError,
            botocore.exceptions.PartialCredentialsError) as exc:
        raise CredentialsError(
            f"No AWS credentials found ({exc}).",
            hint="export AWS_PROFILE=<profile> (then `aws sso login` if it uses SSO), or "
                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of an admin of the target account",
        ) from None
    except botocore.exceptions.ProfileNotFound as exc:
        raise CredentialsError(f"AWS profile not found: {exc}.",
                               hint="check AWS_PROFILE and ~/.aws/config") from None
    except (botocore.exceptions.TokenRetrievalError,
            botocore.exceptions.SSOTokenLoadError) as exc:
        raise CredentialsError(f"The AWS SSO session has expired ({exc}).",
                               hint="run `aws sso login` and try again") from None
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            raise CredentialsError(
                f"The AWS credentials have expired ({code}: {message}).",
                hint="refresh them (`aws sso login`, or new temporary keys) and try again",
            ) from None
        if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied",
                    "UnrecognizedClientException", "InvalidToken"):
            raise CredentialsError(
                f"AWS rejected the credentials ({code}: {message}).",
                hint="check AWS_PROFILE / AWS_ACCESS_KEY_ID; keys may be revoked or mistyped",
            ) from None
        raise PlatformError(f"STS GetCallerIdentity failed: {code}: {message}") from None
    except botocore.exceptions.EndpointConnectionError as exc:
        raise PlatformError(f"Cannot reach AWS STS in {region}: {exc}.",
                            hint="check the network, a proxy, or the region") from None
    identity = Identity(found["Account"], found["Arn"], region)
    if expected_account and identity.account_id != expected_account:
        raise CredentialsError(
            f"These credentials are for account {identity.account_id} ({identity.arn}), but "
            f"the environment lives in account {expected_account}.",
            hint=f"switch to credentials of account {expected_account} (AWS_PROFILE=...); "
                 "nothing was changed",
        )
    return identity


def terraform_binary() -> str:
    explicit = os.environ.get("PLATFORM_TERRAFORM_BIN")
    found = explicit if explicit and Path(explicit).is_file() else shutil.which("terraform")
    if not found:
        raise TerraformMissingError(
            "Terraform is not installed (not found on PATH).",
            hint="install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install) "
                 "or set PLATFORM_TERRAFORM_BIN to its path",
        )
    return found


def terraform_version(binary: str) -> tuple[int, int, int]:
    try:
        result = subprocess.run([binary, "version", "-json"], capture_output=True, text=True,
                                timeout=60, check=False, env=terraform_env())
        text = json.loads(result.stdout)["terraform_version"]
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
        raise TerraformMissingError(
            f"Cannot run '{binary} version' ({type(exc).__name__}: {exc}).",
            hint="reinstall Terraform >= 1.10 or set PLATFORM_TERRAFORM_BIN",
        ) from None
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise TerraformMissingError(f"Unrecognised Terraform version '{text}'.")
    version = tuple(int(p) for p in match.groups())
    if version < MIN_TERRAFORM:
        raise TerraformMissingError(
            f"Terraform {text} is too old: the stack needs >= "
            f"{'.'.join(map(str, MIN_TERRAFORM))} (>= 1.10 for S3-native state locking).",
            hint="upgrade Terraform (https://developer.hashicorp.com/terraform/install)",
        )
    return version  # type: ignore[return-value]


def terraform_env() -> dict[str, str]:
    """Environment for Terraform: non-interactive; a ``TF_CLI_CONFIG_FILE`` that names a
    missing file is dropped (Terraform would warn on every call); a shared plugin cache under
    PLATFORM_HOME so each environment's working copy does not install the provider again."""
    from platform_cli.environments import platform_home

    env = dict(os.environ)
    cli_config = env.get("TF_CLI_CONFIG_FILE")
    if cli_config and not Path(cli_config).is_file():
        env.pop("TF_CLI_CONFIG_FILE")
    if not env.get("TF_PLUGIN_CACHE_DIR") and not _config_sets_cache(env):
        cache = platform_home() / "plugin-cache"
        cache.mkdir(parents=True, exist_ok=True)
        env["TF_PLUGIN_CACHE_DIR"] = str(cache)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    return env


def _config_sets_cache(env: dict[str, str]) -> bool:
    path = env.get("TF_CLI_CONFIG_FILE")
    return bool(path) and "plugin_cache_dir" in Path(path).read_text(errors="replace")


def provider_source(env: dict[str, str]) -> tuple[bool, str]:
    """Whether hashicorp/aws can be installed, as far as can be told without installing it.

    With a filesystem mirror in the CLI config, the provider must be in it; without one,
    Terraform downloads it from the public registry during ``init`` (checked there)."""
    path = env.get("TF_CLI_CONFIG_FILE")
    if not path:
        return True, "hashicorp/aws from registry.terraform.io (downloaded by terraform init)"
    text = Path(path).read_text(errors="replace")
    mirrors = re.findall(r'filesystem_mirror\s*{[^}]*?path\s*=\s*"([^"]+)"', text, re.S)
    if not mirrors:
        return True, f"hashicorp/aws as configured in {path}"
    for mirror in mirrors:
        if (Path(mirror) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return True, f"hashicorp/aws from the filesystem mirror {mirror}"
    return False, (f"the CLI config {path} installs providers from {', '.join(mirrors)}, "
                   "which holds no hashicorp/aws")


def check_flowlib_config() -> Path | None:
    """The flowlib config file must be readable before anything is provisioned: the profile
    is written into it at the end, and a corrupt file must not be discovered then."""
    from flowlib.config import config_path, load_config

    path = config_path()
    load_config(path)  # raises flowlib's ConfigError with the file and the JSON error
    return path
