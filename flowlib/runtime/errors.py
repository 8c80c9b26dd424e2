"""How a failed attempt's error is recorded, and what ``@catch`` hands to the flow."""

from __future__ import annotations

import os
import traceback
from typing import Any

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


def user_traceback(exc: BaseException) -> str:
    """The traceback without flowlib's own runtime frames above the user's step."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_RUNTIME_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def error_record(exc: BaseException) -> dict[str, Any]:
    """A JSON-able description of an exception raised by a step."""
    return {"type": exception_type(exc), "message": str(exc), "traceback": user_traceback(exc)}


def exception_type(exc: BaseException) -> str:
    """The exception's class with its module, as Metaflow records it: ``builtins.KeyError``,
    ``mypackage.errors.BadInput``."""
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def crash_record(kind: str, message: str) -> dict[str, Any]:
    """A failure observed from outside the task (killed, crashed, timed out)."""
    return {"type": kind, "message": message, "traceback": ""}


class StepException:
    """The exception of a failed step as @catch stores it (Metaflow: MetaflowExceptionWrapper)."""

    def __init__(self, exception_type: str, message: str, stacktrace: str) -> None:
        self.type = exception_type
        self.exception = message
        self.stacktrace = stacktrace

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StepException:
        return cls(
            record.get("type", "Exception"), record.get("message", ""), record.get("traceback", "")
        )

    def __str__(self) -> str:
        return f"{self.type}: {self.exception}"

    def __repr__(self) -> str:
        return f"StepException({self.type}: {self.exception!r})"
