"""Riding out store outages: every S3 and DynamoDB call retries for a bounded time.

Two layers, both from libraries:

* botocore's own retries (``standard`` / ``adaptive`` mode, see ``flowlib.config.aws``) absorb
  the short blips: a throttled request, one 503, a dropped connection, within seconds.
* Around each call, tenacity keeps retrying *transient* failures (connection errors, timeouts,
  5xx, throttling) with exponential backoff and jitter (1 s doubling to 30 s) while the next
  attempt would still start within the outage budget: ``store_retry_seconds`` of the profile
  (``FLOWLIB_STORE_RETRY_SECONDS``; default 600 s, 0 turns the layer off). botocore's retries
  alone cannot do this: they count attempts, not time, and stop once the client's retry quota
  is spent, which a minutes-long outage always exhausts.

Each wait is announced on stderr (the runtime's console, or the task's log), with how long the
store has been failing and how long flowlib will keep trying, so an outage is visible, not a hang.
Errors that are not transient (access denied, missing bucket or table, a failed condition) are
raised at once. A request body that was partly sent is rewound before the call is made again.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import botocore.exceptions
import tenacity

from flowlib.exceptions import ConfigError

RETRY_ENV = "FLOWLIB_STORE_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 600.0
_TRANSIENT_CODES = {
    "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "TooManyRequestsException", "SlowDown", "InternalError", "InternalServerError",
    "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException", "RequestTimeout",
    "RequestTimeoutException", "TransactionInProgressException", "LimitExceededException",
}
# Client methods that make no request of their own.
_LOCAL = {"get_paginator", "get_waiter", "can_paginate", "generate_presigned_url",
          "generate_presigned_post", "close"}


def retry_budget(profile: Any) -> float:
    """Seconds a call keeps retrying through an outage (profile key, then the default)."""
    raw = os.environ.get(RETRY_ENV) or _profile_value(profile)
    if raw in (None, ""):
        return DEFAULT_RETRY_SECONDS
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if value < 0:
        raise ConfigError(
            f"store_retry_seconds must be a number of seconds >= 0, not {raw!r} "
            f"(profile key store_retry_seconds or {RETRY_ENV})."
        )
    return value


def _profile_value(profile: Any) -> Any:
    try:
        return profile["store_retry_seconds"]
    except KeyError:
        return None


def is_transient(exc: BaseException) -> bool:
    """True for failures an outage causes and a later attempt may not see."""
    if isinstance(exc, (botocore.exceptions.ConnectionError,
                        botocore.exceptions.HTTPClientError)):
        return True  # endpoint unreachable, connection closed or reset, timeouts
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return str(error.get("Code", "")) in _TRANSIENT_CODES or int(status) >= 500
    return False


class RetryingClient:
    """A boto3 client whose API calls ride out outages (see the module docstring)."""

    def __init__(self, client: Any, service: str, budget: float) -> None:
        self._client = client
        self._service = service
        self._budget = budget

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or name in _LOCAL or not callable(attr) or self._budget <= 0:
            return attr
        return lambda *args, **kwargs: self._call(name, attr, args, kwargs)

    def _call(self, name: str, method: Any, args: tuple, kwargs: dict) -> Any:
        body = kwargs.get("Body")
        start_position = body.tell() if hasattr(body, "seek") and hasattr(body, "tell") else None
        started = time.monotonic()

        def announce(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            failing = time.monotonic() - started
            wait = state.next_action.sleep if state.next_action else 0.0
            print(
                f"flowlib: {self._service} {name} failed ({_describe(exc)}); the store has been "
                f"failing for {failing:.0f} s, retrying in {wait:.1f} s (for up to "
                f"{max(self._budget - failing, 0):.0f} s more, store_retry_seconds="
                f"{self._budget:g}).",
                file=sys.stderr, flush=True,
            )

        def rewind(state: tenacity.RetryCallState) -> None:
            if start_position is not None and state.attempt_number > 1:
                body.seek(start_position)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_transient),
            # No attempt starts past the budget (stop_after_delay would still sleep and try
            # again after it); the last attempt may still take botocore's own few seconds.
            stop=tenacity.stop_before_delay(self._budget),
            wait=tenacity.wait_exponential_jitter(initial=1, max=30),
            before=rewind,
            before_sleep=announce,
            reraise=True,
        )
        return retrying(method, *args, **kwargs)


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message') or ''}".strip().rstrip(":")
    return f"{type(exc).__name__}: {exc}"
