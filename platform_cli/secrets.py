"""An environment's secrets, under its own prefix: set, list (names only), delete.

Plain functions; ``platform_cli/commands/secrets.py`` is a thin click layer over them.

Layout, which the stack's task-role policy mirrors (terraform/modules/iam/secrets.tf):

* AWS Secrets Manager: ``flowlib/<env>/<name>``
  (steps use ``@secrets(sources=["flowlib/dev/db"])``);
* SSM Parameter Store: ``/flowlib/<env>/<name>``, a ``SecureString``
  (``@secrets(sources=["ssm:/flowlib/dev/db"])``).

Both are encrypted with the environment's KMS key (the profile's ``s3_kms_key_arn``, the key
the task role may decrypt with). Values are read from a file or stdin, never from the
command line (shell history, ``ps``), and never printed: ``list`` shows names and the time of
the last change only.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from platform_cli.errors import PlatformError

SECRETS_MANAGER, PARAMETER_STORE = "secretsmanager", "ssm"
STORES = (SECRETS_MANAGER, PARAMETER_STORE)
_NAME = re.compile(r"^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*$")
_SSM_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
MAX_NAME = 200


@dataclass(frozen=True)
class SecretsTarget:
    """Where an environment's secrets live: its region, key and prefixes."""

    env: str
    region: str
    kms_key_arn: str | None
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def prefix(self) -> str:
        return f"flowlib/{self.env}/"

    def full_name(self, name: str, store: str) -> str:
        return self.prefix + name if store == SECRETS_MANAGER else f"/{self.prefix}{name}"

    def source(self, name: str, store: str) -> str:
        """What a step writes in ``@secrets(sources=[...])`` for this secret."""
        full = self.full_name(name, store)
        return full if store == SECRETS_MANAGER else f"ssm:{full}"

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.session.Session(region_name=self.region).client(
                service)
        return self._clients[service]


@dataclass
class SecretEntry:
    name: str  # relative to the environment's prefix
    store: str
    source: str  # for @secrets
    last_changed: str | None  # ISO 8601, UTC

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "store": self.store, "source": self.source,
                "last_changed": self.last_changed}


def target_for(env: str) -> SecretsTarget:
    """The environment's region and KMS key, from its flowlib profile."""
    from platform_cli import environments as envs
    from platform_cli import profiles

    envs.validate_name(env)
    profile = profiles.read(env)
    if profile is None:
        raise PlatformError(
            f"No flowlib profile '{env}' on this machine: it says which region and KMS key "
            "the environment's secrets use.",
            hint=f"`platform init {env}` writes it, or `platform configure import FILE` with "
                 "a file from ops")
    region = profile.get("region")
    if not region:
        raise PlatformError(f"The flowlib profile '{env}' has no region.",
                            hint=f"re-run `platform apply {env}` to rewrite the profile")
    return SecretsTarget(env, region, profile.get("s3_kms_key_arn"))


def check_name(name: str, store: str) -> str:
    pattern, allowed = ((_NAME, "letters, digits and _+=.@- separated by /")
                        if store == SECRETS_MANAGER else
                        (_SSM_NAME, "letters, digits and _.- separated by /"))
    if not name or len(name) > MAX_NAME or not pattern.match(name):
        raise PlatformError(
            f"Invalid secret name '{name}': use 1-{MAX_NAME} characters, {allowed}, relative "
            "to the environment's prefix (e.g. warehouse or hub/token).")
    return name


def read_value(from_file: Path | None, value: str | None, stdin: IO[str] | None = None) -> str:
    """The value from ``--from-file F`` or ``--value -`` (stdin); never from argv."""
    if (from_file is None) == (value is None):
        raise PlatformError("Give the value with exactly one of --from-file FILE or --value - "
                            "(read from stdin).",
                            hint="e.g. printf %s \"$TOKEN\" | platform secrets set dev hub-token "
                                 "--value -")
    if value is not None and value != "-":
        raise PlatformError(
            "--value takes only '-' (read the value from stdin): a value on the command line "
            "ends up in the shell history and in the process list.",
            hint="printf %s \"$VALUE\" | platform secrets set ENV NAME --value -")
    if from_file is not None:
        try:
            text = from_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PlatformError(f"Cannot read {from_file}: {exc}.") from None
    else:
        text = (stdin or sys.stdin).read()
    # One trailing newline is an artefact of `echo` and editors, not part of the secret.
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    if not text:
        raise PlatformError("The secret value is empty; nothing was stored.")
    return text


def check_value(target: SecretsTarget, name: str, store: str, value: str) -> list[str]:
    """The variables a step will get from this value (the @secrets naming rule); a value the
    task would refuse is refused here already."""
    from flowlib.exceptions import FlowlibError
    from flowlib.taskenv.sources import variables_from_value

    try:
        return sorted(variables_from_value(value, target.full_name(name, store),
                                           f"secret '{name}'"))
    except FlowlibError as exc:
        raise PlatformError(f"{exc} Nothing was stored.") from None


def set_secret(target: SecretsTarget, name: str, value: str, store: str) -> tuple[str, bool]:
    """Create or update a secret; (the source name for @secrets, True if it was created)."""
    check_name(name, store)
    full = target.full_name(name, store)
    try:
        if store == PARAMETER_STORE:
            return target.source(name, store), _put_parameter(target, full, value)
        return target.source(name, store), _put_secret(target, full, value)
    except PlatformError:
        raise
    except Exception as exc:  # noqa: BLE001 - AWS errors become one line
        error = _aws_error(exc, f"store secret '{full}'", target)
        # AWS validation messages may quote the rejected value: never print it.
        error.message = error.message.replace(value, "****") if len(value) >= 4 else \
            error.message
        error.args = (error.message,)
        raise error from None


def _put_secret(target: SecretsTarget, full: str, value: str) -> bool:
    client = target.client("secretsmanager")
    extra = {"KmsKeyId": target.kms_key_arn} if target.kms_key_arn else {}
    try:
        client.create_secret(Name=full, SecretString=value, Description=(
            f"flowlib environment '{target.env}' (platform secrets)"),
            Tags=[{"Key": "flowlib:environment", "Value": target.env}], **extra)
        return True
    except Exception as exc:
        code = _code(exc)
        if code == "InvalidRequestException" and "deletion" in str(exc).lower():
            client.restore_secret(SecretId=full)  # set after delete: bring it back, then update
        elif code != "ResourceExistsException":
            raise
    client.put_secret_value(SecretId=full, SecretString=value)
    return False


def _put_parameter(target: SecretsTarget, full: str, value: str) -> bool:
    client = target.client("ssm")
    extra = {"KeyId": target.kms_key_arn} if target.kms_key_arn else {}
    response = client.put_parameter(Name=full, Value=value, Type="SecureString",
                                    Overwrite=True, **extra)
    return int(response.get("Version", 1)) == 1


def list_secrets(target: SecretsTarget) -> list[SecretEntry]:
    """Every secret under the environment's prefix in both stores; names and dates only."""
    try:
        entries = _list_secrets_manager(target) + _list_parameters(target)
    except Exception as exc:  # noqa: BLE001
        raise _aws_error(exc, f"list secrets under {target.prefix}", target) from None
    return sorted(entries, key=lambda e: (e.name, e.store))


def _list_secrets_manager(target: SecretsTarget) -> list[SecretEntry]:
    paginator = target.client("secretsmanager").get_paginator("list_secrets")
    entries = []
    for page in paginator.paginate(Filters=[{"Key": "name", "Values": [target.prefix]}]):
        for item in page.get("SecretList", []):
            full = item["Name"]
            if full.startswith(target.prefix):  # the name filter matches more than a prefix
                changed = item.get("LastChangedDate") or item.get("CreatedDate")
                entries.append(SecretEntry(full[len(target.prefix):], SECRETS_MANAGER, full,
                                           _iso(changed)))
    return entries


def _list_parameters(target: SecretsTarget) -> list[SecretEntry]:
    paginator = target.client("ssm").get_paginator("describe_parameters")
    prefix = f"/{target.prefix}"
    entries = []
    for page in paginator.paginate(ParameterFilters=[
            {"Key": "Name", "Option": "BeginsWith", "Values": [prefix]}]):
        for item in page.get("Parameters", []):
            full = item["Name"]
            if full.startswith(prefix):
                entries.append(SecretEntry(full[len(prefix):], PARAMETER_STORE, f"ssm:{full}",
                                           _iso(item.get("LastModifiedDate"))))
    return entries


def stores_holding(target: SecretsTarget, name: str) -> list[str]:
    return [e.store for e in list_secrets(target) if e.name == name]


def delete_secret(target: SecretsTarget, name: str, store: str, recovery_days: int | None
                  ) -> str:
    """Delete one secret; Secrets Manager keeps it ``recovery_days`` (7-30) unless None
    (immediately). Returns the deleted source name."""
    full = target.full_name(name, store)
    try:
        if store == PARAMETER_STORE:
            target.client("ssm").delete_parameter(Name=full)
        elif recovery_days is None:
            target.client("secretsmanager").delete_secret(SecretId=full,
                                                          ForceDeleteWithoutRecovery=True)
        else:
            target.client("secretsmanager").delete_secret(SecretId=full,
                                                          RecoveryWindowInDays=recovery_days)
    except Exception as exc:  # noqa: BLE001
        raise _aws_error(exc, f"delete secret '{full}'", target) from None
    return target.source(name, store)


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "astimezone"):
        import datetime as dt

        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _aws_error(exc: BaseException, action: str, target: SecretsTarget) -> PlatformError:
    import botocore.exceptions as bx

    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return PlatformError(f"No AWS credentials to {action}.",
                             hint="set AWS_PROFILE, run `aws sso login`, or export "
                                  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, bx.EndpointConnectionError):
        return PlatformError(f"Cannot reach AWS to {action} ({target.region}): {exc}.")
    code = _code(exc)
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", exc))
    if code in ("AccessDeniedException", "AccessDenied"):
        return PlatformError(f"Access denied: cannot {action}: {message}",
                             hint="`platform secrets` needs secretsmanager:* and ssm:*Parameter* "
                                  f"on {target.prefix}* and kms:Encrypt on the environment's key")
    if code in ("ResourceNotFoundException", "ParameterNotFound"):
        return PlatformError(f"Cannot {action}: it does not exist.",
                             hint=f"`platform secrets list {target.env}` shows what exists")
    return PlatformError(f"Cannot {action}: {code or type(exc).__name__}: {message}")
