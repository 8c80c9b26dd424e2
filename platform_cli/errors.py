"""Errors a user can act on.

Every failure a user can fix (credentials, names, locks, a failed apply) is a ``PlatformError``
whose message says what is wrong and what to do. It is a ``FlowlibError``, so the error
wrapper the three command lines share (``flowlib.cli.errors``) prints it as one line on stderr
(plus an optional hint line) and exits with its code; tracebacks are kept for our own bugs.
"""

from __future__ import annotations

from flowlib.exceptions import FlowlibError


class PlatformError(FlowlibError):
    """A problem the user can fix; ``exit_code`` is the process exit status."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class CredentialsError(PlatformError):
    """No, expired or wrong-account AWS credentials."""


class TerraformMissingError(PlatformError):
    """Terraform is not installed or too old."""


class StateLockedError(PlatformError):
    """Another run holds the state lock."""


class ApplyFailedError(PlatformError):
    """Terraform apply stopped part-way; the state keeps what was created."""


class UnknownEnvironmentError(PlatformError):
    """No environment of that name locally or in the state bucket."""


class InvalidNameError(PlatformError):
    """An environment name Terraform and flowlib would not accept."""
