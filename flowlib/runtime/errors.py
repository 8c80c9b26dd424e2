"""How a failed attempt's error is recorded (``StepException``, what ``@catch`` hands to the flow,
lives with the records in ``flowlib.metadata.records``)."""

from __future__ import annotations

import os
import traceback

from flowlib.metadata.records import ErrorRecord, StepException  # noqa: F401 - re-exported

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


def user_traceback(exc: BaseException) -> str:
    """The traceback without flowlib's own runtime frames above the user's step."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_RUNTIME_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def error_record(exc: BaseException) -> ErrorRecord:
    """A JSON-able description of an exception raised by a step."""
    return {"type": exception_type(exc), "message": str(exc), "traceback": user_traceback(exc)}


def exception_type(exc: BaseException) -> str:
    """The exception's class with its module, as Metaflow records it: ``builtins.KeyError``,
    ``mypackage.errors.BadInput``."""
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def loop_limit_message(step: str, iteration: int, raise_with: str) -> str:
    """Why a recursive switch stopped: the same sentence wherever the loop runs (the local
    scheduler, Step Functions); ``raise_with`` names the command whose option raises it."""
    return (f"step '{step}' repeated itself {iteration} times through its switch, the limit; "
            f"raise it with {raise_with} --max-loop-iterations, or check that the condition "
            "can end the loop")


def crash_record(kind: str, message: str) -> ErrorRecord:
    """A failure observed from outside the task (killed, crashed, timed out)."""
    return {"type": kind, "message": message, "traceback": ""}
