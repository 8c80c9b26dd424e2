"""Read secret sources with the task's own credentials, AWS errors as one sentence each.

Runs inside the task process only (never on the launching machine). Credentials come from
the task's environment: the job role on Batch, the pod identity on EKS, the user's own
credentials locally (or the flowlib profile's ``aws_profile``). boto3 is imported here, so a
step without ``@secrets`` never pays for it.
"""

from __future__ import annotations

import os
from typing import Any

from flowlib.taskenv.sources import INLINE, SECRETS_MANAGER, SecretSource, SecretSourceError

_NOT_FOUND = {"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation",
           "UnrecognizedClientException", "InvalidSignatureException"}
_KMS = {"DecryptionFailure", "KMSAccessDeniedException", "KMSDisabledException",
        "KMSInvalidStateException", "KMSNotFoundException", "InvalidKeyId"}


class SourceReader:
    """Fetch sources; one boto3 session and one client per (service, region)."""

    def __init__(self, aws_profile: str | None = None, region: str | None = None) -> None:
        self.aws_profile = aws_profile or None
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get(
            "AWS_DEFAULT_REGION")
        self._session: Any = None
        self._clients: dict[tuple[str, str | None], Any] = {}

    def _client(self, service: str, region: str | None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            if self._session is None:
                self._session = boto3.session.Session(profile_name=self.aws_profile,
                                                      region_name=self.region)
            config = Config(retries={"mode": "standard", "max_attempts": 5},
                            connect_timeout=10, read_timeout=30)
            self._clients[key] = self._session.client(service, region_name=key[1],
                                                      config=config)
        return self._clients[key]

    def read(self, source: SecretSource) -> tuple[str, str]:
        """(value, the secret's own name) of one source; SecretSourceError if it can't."""
        if source.service == INLINE:  # the values are in the source itself (a JSON object)
            return source.ident, source.text
        try:
            if source.service == SECRETS_MANAGER:
                return self._secrets_manager(source)
            return self._parameter(source)
        except SecretSourceError:
            raise
        except ModuleNotFoundError as exc:
            raise SecretSourceError(
                f"@secrets: reading {source.label} needs the package '{exc.name}': "
                "pip install 'flowlib-platform[aws]' (in the step's image too)."
            ) from None
        except Exception as exc:  # noqa: BLE001 - every AWS failure becomes one sentence
            raise SecretSourceError(self._explain(source, exc)) from None

    def _secrets_manager(self, source: SecretSource) -> tuple[str, str]:
        response = self._client("secretsmanager", source.region).get_secret_value(
            SecretId=source.ident)
        name = response.get("Name") or source.ident
        if "SecretString" in response:
            return response["SecretString"], name
        try:
            return bytes(response["SecretBinary"]).decode("utf-8"), name
        except (KeyError, UnicodeDecodeError):
            raise SecretSourceError(
                f"@secrets: {source.label} is a binary secret that is not UTF-8 text; "
                "environment variables hold text only: store it as a string (base64 it)."
            ) from None

    def _parameter(self, source: SecretSource) -> tuple[str, str]:
        response = self._client("ssm", source.region).get_parameter(
            Name=source.ident, WithDecryption=True)
        parameter = response["Parameter"]
        return parameter["Value"], parameter.get("Name") or source.ident

    def _explain(self, source: SecretSource, exc: Exception) -> str:
        import botocore.exceptions as bx

        region = self.region or "the default region"
        if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError,
                            bx.CredentialRetrievalError)):
            return (f"@secrets: no AWS credentials to read {source.label}: on Batch and EKS "
                    "the task role provides them; locally set AWS_PROFILE or export "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.")
        if isinstance(exc, bx.NoRegionError):
            return (f"@secrets: no AWS region to read {source.label}: set AWS_REGION, use a "
                    "flowlib profile with a region, or give the source as an ARN.")
        if isinstance(exc, bx.EndpointConnectionError):
            return f"@secrets: cannot reach AWS to read {source.label} ({region}): {exc}."
        if not isinstance(exc, bx.ClientError):
            return f"@secrets: cannot read {source.label}: {type(exc).__name__}: {exc}."
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code.isdigit():  # an error body botocore could not parse: name it by its status
            code, message = f"HTTP {code}", ""
        action = ("secretsmanager:GetSecretValue" if source.service == SECRETS_MANAGER
                  else "ssm:GetParameter")
        if code in _NOT_FOUND:
            return (f"@secrets: {source.label} does not exist (region {region}). Create it "
                    "with `platform secrets set ENV NAME`, or fix the name in @secrets.")
        if code in _KMS or (code in _DENIED and "kms" in message.lower()):
            return (f"@secrets: the task may not decrypt {source.label}: kms:Decrypt is denied "
                    f"on its KMS key ({code}). The task role may decrypt with its environment's "
                    "key only: store the secret with `platform secrets set ENV NAME`.")
        if code in _DENIED or status == 403:
            return (f"@secrets: the task's AWS identity may not read {source.label}: {action} "
                    f"is denied ({code}). The task role may read its environment's prefix "
                    "only (flowlib/ENV/* in Secrets Manager, /flowlib/ENV/* in Parameter "
                    "Store): store it there with `platform secrets set ENV NAME`, or grant "
                    f"{action} on it to the task role.")
        return f"@secrets: cannot read {source.label}: {code}: {message}"
