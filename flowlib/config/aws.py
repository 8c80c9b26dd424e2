"""AWS sessions and clients for a profile, and AWS errors turned into actionable messages.

Imported only when the effective profile uses S3 or DynamoDB (boto3 is an optional
dependency and costs ~0.3 s to import).

Clients are cached per process id: a boto3 client's connection pool must never be shared
across ``fork()`` (the local runtime forks task workers), so a forked child builds its own from
the inherited session, which is cheap because the service models are already loaded.

Retries: botocore's ``standard`` mode for S3 (exponential backoff with jitter on 5xx,
throttling and connection errors, 4 attempts) and ``adaptive`` mode for DynamoDB (the same,
plus client-side rate limiting once the table throttles, which on-demand tables do during
bursts of a large foreach); around them, a time budget that rides out outages of minutes
(``aws_retry``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from flowlib.config import Profile
from flowlib.config.aws_retry import RetryingClient, retry_budget
from flowlib.exceptions import ArtifactError, ConfigError, FlowlibError, MetadataError

# botocore's own retries cover blips of a few seconds silently; anything longer is an outage,
# handled (and shown) by the time-bounded layer of aws_retry.
MAX_ATTEMPTS = 4


class AwsCredentialsError(ConfigError):
    """No usable AWS credentials."""


class AwsAccessDeniedError(FlowlibError):
    """The credentials lack a permission."""


class AwsRegionMismatchError(ConfigError):
    """The bucket lives in another region than the profile says."""


class BucketMissingError(ArtifactError):
    """The profile's bucket does not exist."""


class TableMissingError(MetadataError):
    """The profile's table does not exist."""


class AwsContext:
    """The AWS side of a profile: session, region, per-process clients, error translation."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.region = profile["region"]
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[int, str], Any] = {}
        self._lock = threading.Lock()
        self.event_hooks: list[tuple[str, Any]] = []  # (event name, handler) for new clients

    @property
    def session(self) -> boto3.session.Session:
        if self._session is None:
            try:
                self._session = boto3.session.Session(
                    profile_name=self.profile["aws_profile"] or None, region_name=self.region
                )
            except botocore.exceptions.ProfileNotFound as exc:
                raise AwsCredentialsError(
                    f"AWS profile '{self.profile['aws_profile']}' named by flowlib profile "
                    f"'{self.profile.name}' ({self.profile.sources.get('aws_profile')}) does not "
                    f"exist: {exc}. Fix aws_profile or configure it with 'aws configure'."
                ) from None
        return self._session

    def client(self, service: str) -> Any:
        key = (os.getpid(), service)
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = self._make_client(service)
        return client

    def _make_client(self, service: str) -> Any:
        mode = "adaptive" if service == "dynamodb" else "standard"
        config = Config(
            region_name=self.region,
            retries={"mode": mode, "max_attempts": MAX_ATTEMPTS},
            max_pool_connections=32,
            connect_timeout=10,
            read_timeout=120,
            tcp_keepalive=True,
        )
        client = self.session.client(service, config=config)
        for event, handler in self.event_hooks:
            client.meta.events.register(event, handler)
        return RetryingClient(client, service, retry_budget(self.profile))

    def forget_clients(self) -> None:
        self._clients.clear()

    # -- errors ----------------------------------------------------------------------------
    def _where(self, key: str) -> str:
        return self.profile.sources.get(key, "default")

    def translate(self, exc: BaseException, action: str, resource: str) -> FlowlibError | None:
        """A FlowlibError for a botocore failure of ``action`` on ``resource``, or None."""
        p = self.profile
        if isinstance(exc, FlowlibError):
            return exc
        if isinstance(
            exc,
            (
                botocore.exceptions.NoCredentialsError,
                botocore.exceptions.PartialCredentialsError,
                botocore.exceptions.CredentialRetrievalError,
            ),
        ):
            return AwsCredentialsError(
                f"No AWS credentials found for flowlib profile '{p.name}' ({action} on "
                f"{resource}): set AWS_PROFILE or the profile's aws_profile key, run "
                "'aws sso login', or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            )
        if isinstance(exc, botocore.exceptions.ProfileNotFound):
            return AwsCredentialsError(
                f"AWS profile not found for flowlib profile '{p.name}': {exc}"
            )
        if isinstance(exc, botocore.exceptions.EndpointConnectionError):
            return FlowlibError(
                f"Cannot reach the AWS endpoint for {action} on {resource} (region {self.region},"
                f" flowlib profile '{p.name}'): {exc}. Check the network and the region."
            )
        if not isinstance(exc, botocore.exceptions.ClientError):
            return None
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = error.get("Message", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if code in ("NoSuchBucket",):
            return BucketMissingError(self.bucket_missing_message())
        if code == "ResourceNotFoundException":
            return TableMissingError(
                f"DynamoDB table '{p['dynamodb_table']}' does not exist in region {self.region} "
                f"(flowlib profile '{p.name}', table from {self._where('dynamodb_table')}, "
                f"region from {self._where('region')}). Create it with the Terraform metadata "
                "module (or 'platform apply'), or fix dynamodb_table / region."
            )
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "301",
                    "IllegalLocationConstraintException") or status == 301:
            return self.region_mismatch(headers.get("x-amz-bucket-region") or error.get("Region"))
        # Rejected keys first: S3 answers them with a 403 status too.
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "UnrecognizedClientException",
                    "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
                    "InvalidToken", "TokenRefreshRequired"):
            return AwsCredentialsError(
                f"The AWS credentials for flowlib profile '{p.name}' were rejected ({code}) on "
                f"{action} of {resource}: refresh them ('aws sso login') or set AWS_PROFILE."
            )
        if code in ("AccessDenied", "AccessDeniedException", "403", "Forbidden",
                    "AllAccessDisabled") or status == 403:
            if code in ("403", "Forbidden"):
                # A HEAD answer has no body: a bad key and a missing permission look alike.
                rejected = self._credentials_rejected(action, resource)
                if rejected is not None:
                    return rejected
            return AwsAccessDeniedError(
                f"Access denied: {action} on {resource} (flowlib profile '{p.name}', region "
                f"{self.region}). The AWS credentials in use lack this permission: use the "
                "platform's task role or ask the platform team to grant it. "
                f"AWS said: {message or code}"
            )
        return None

    def _credentials_rejected(self, action: str, resource: str) -> FlowlibError | None:
        """Ask STS who we are: a credentials error if AWS rejects the keys themselves, else
        None (the keys are valid, so a 403 really is a missing permission)."""
        try:
            sts = self.session.client(
                "sts", config=Config(region_name=self.region, retries={"max_attempts": 2},
                                     connect_timeout=5, read_timeout=10)
            )
            sts.get_caller_identity()
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
                        "ExpiredTokenException", "InvalidAccessKeyId"):
                return AwsCredentialsError(
                    f"The AWS credentials for flowlib profile '{self.profile.name}' were rejected "
                    f"({code}) on {action} of {resource}: the access key is invalid or expired. "
                    "Refresh them ('aws sso login'), fix AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                    "or set AWS_PROFILE."
                )
        except Exception:  # noqa: BLE001 - STS unreachable: fall back to the 403's reading
            return None
        return None

    def bucket_missing_message(self) -> str:
        p = self.profile
        return (
            f"S3 bucket '{p['s3_bucket']}' does not exist (flowlib profile '{p.name}', bucket "
            f"from {self._where('s3_bucket')}). Create it with the Terraform artifacts module "
            "(or 'platform apply'), or fix s3_bucket."
        )

    def region_mismatch(self, actual: str | None) -> AwsRegionMismatchError:
        p = self.profile
        where = f"in region {actual}" if actual else "in another region"
        fix = (f"to {actual} (or FLOWLIB_REGION={actual})" if actual
               else "to the bucket's region (or set FLOWLIB_REGION)")
        return AwsRegionMismatchError(
            f"S3 bucket '{p['s3_bucket']}' is {where} but flowlib profile '{p.name}' uses "
            f"region {self.region} (from {self._where('region')}). Set the profile's region "
            f"{fix}."
        )

    def wrap(self, exc: BaseException, action: str, resource: str, kind: type = FlowlibError
             ) -> FlowlibError:
        translated = self.translate(exc, action, resource)
        if translated is not None:
            return translated
        if isinstance(exc, botocore.exceptions.ClientError):
            error = exc.response.get("Error", {})
            detail = f"{error.get('Code')}: {error.get('Message')}"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        return kind(
            f"{action} on {resource} failed (flowlib profile '{self.profile.name}', region "
            f"{self.region}): {detail}"
        )

    # -- checks ----------------------------------------------------------------------------
    def check_bucket(self) -> None:
        """HeadBucket: the bucket exists, is reachable with these credentials, same region."""
        bucket = self.profile["s3_bucket"]
        try:
            response = self.client("s3").head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = str(exc.response.get("Error", {}).get("Code"))
            if status == 404 or code in ("404", "NoSuchBucket", "NotFound"):
                raise BucketMissingError(self.bucket_missing_message()) from None
            if status == 403:
                # HeadBucket needs s3:ListBucket on the whole bucket; the task roles may list
                # only their prefix (README, trust model), so ask about the prefix instead.
                response = self._list_own_prefix(bucket)
            else:
                raise self.wrap(exc, "s3:ListBucket (HeadBucket)", f"s3://{bucket}") from None
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            raise self.wrap(exc, "s3:ListBucket (HeadBucket)", f"s3://{bucket}") from None
        actual = response.get("BucketRegion") or response.get("ResponseMetadata", {}).get(
            "HTTPHeaders", {}
        ).get("x-amz-bucket-region")
        if actual and actual != self.region:
            raise self.region_mismatch(actual)

    def _list_own_prefix(self, bucket: str) -> dict[str, Any]:
        """ListObjectsV2 of one key under the profile's prefix (what a task role may do)."""
        prefix = (self.profile["s3_prefix"] or "").strip("/")
        where = f"s3://{bucket}/{prefix}".rstrip("/")
        try:
            return self.client("s3").list_objects_v2(
                Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1
            )
        except botocore.exceptions.ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                raise BucketMissingError(self.bucket_missing_message()) from None
            raise self.wrap(exc, "s3:ListBucket (HeadBucket, then ListObjectsV2 of the prefix)",
                            where) from None
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            raise self.wrap(exc, "s3:ListBucket (ListObjectsV2 of the prefix)", where) from None
