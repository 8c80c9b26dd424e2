"""Liveness of runs orchestrated by Step Functions: the execution's status answers.

A deployed run has no flowlib runtime process writing heartbeats: its state machine is the
runtime. Its tasks record themselves, and the entry marks the run finished after ``end`` or
after a task failure no ``@retry``/``@catch`` handles; but an execution can also end outside
any task, where nothing of flowlib runs to record it: stopped (StopExecution, the console),
timed out (``create --workflow-timeout``), failed in the state machine itself (a Batch job
that could not be submitted or never started, a States.Runtime error), or gone with its
deleted state machine. Such a run would stay "running" forever.

So readers ask Step Functions. ``flowlib.backends`` names ``execution_liveness`` as the
``step-functions`` backend's liveness probe; ``flowlib.metadata.liveness.run_liveness`` calls
it for every run stored as running that carries the system tag ``runtime:step-functions``,
and the client (``Run.status``, ``Run.finished``), ``python flow.py status``,
``step-functions list-runs``, ``resume`` and gc all read that one verdict. The run records its
execution ARN in the tag ``step_functions_execution_arn:<arn>`` (``trigger``/``resume`` before
starting the execution, the start task for scheduled and event-started ones); one
DescribeExecution answers:

* RUNNING (or PENDING_REDRIVE): running, whatever the heartbeats say (a job waiting in a Batch
  queue writes none; an orphan job of a stopped execution still writes some).
* ABORTED, TIMED_OUT, FAILED, or SUCCEEDED without the run's end recorded: ``crashed``, with
  one sentence saying what ended the execution and when, and ``ended`` (nothing will write to
  the run any more: ``Run.finished`` is true). Nothing is stored: a redriven execution shows as
  running again.
* No such execution: ``crashed`` once the run is older than the heartbeat timeout (younger, it
  may be between its allocation and StartExecution).
* No answer (no credentials, no ``states:DescribeExecution`` permission, an outage): running,
  with the reason; a run is never guessed dead.

Verdicts on ended executions are kept for the life of the process, others for a few seconds,
so listing many runs costs at most one call per running run.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from flowlib.metadata.liveness import CRASHED, Liveness, stale_after
from flowlib.metadata.records import RUNNING, RunRecord

EXECUTION_ARN_TAG = "step_functions_execution_arn:"
RECHECK_RUNNING = 5.0  # seconds a "still running" answer is reused
_ENDED = ("ABORTED", "TIMED_OUT", "FAILED", "SUCCEEDED")

_lock = threading.Lock()
_verdicts: dict[str, tuple[float, Liveness]] = {}
_clients: dict[tuple[int, str], Any] = {}


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of a standard state machine."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def recorded_arn(record: RunRecord) -> str | None:
    """The execution ARN the run recorded (None: a run deployed before runs recorded it)."""
    for tag in (*record.system_tags, *record.tags):
        if tag.startswith(EXECUTION_ARN_TAG):
            return tag[len(EXECUTION_ARN_TAG):]
    return None


def execution_liveness(record: RunRecord) -> Liveness | None:
    """The liveness probe of the ``step-functions`` backend (see the module docstring)."""
    arn = recorded_arn(record)
    if arn is None:
        return None
    now = time.monotonic()
    with _lock:
        cached = _verdicts.get(arn)
    if cached is not None and (cached[1].ended or now - cached[0] < RECHECK_RUNNING):
        return cached[1]
    verdict = _ask(record, arn)
    if verdict is not None:
        with _lock:
            _verdicts[arn] = (now, verdict)
    return verdict


def forget() -> None:
    """Drop the cached verdicts and clients (tests; a changed configuration)."""
    with _lock:
        _verdicts.clear()
        _clients.clear()


def _ask(record: RunRecord, arn: str) -> Liveness | None:
    from botocore.exceptions import ClientError

    name = arn.rsplit(":", 1)[-1]
    try:
        sfn = _client(arn)
        described = sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ExecutionDoesNotExist":
            if time.time() - record.created <= stale_after():
                return Liveness(RUNNING)  # allocated, StartExecution not answered yet
            return Liveness(CRASHED, f"its Step Functions execution {name} does not exist: it "
                                     "never started, or its state machine was deleted",
                            ended=True)
        return _unknown(name, exc)
    except Exception as exc:  # noqa: BLE001 - no credentials, no boto3, an outage: cannot tell
        return _unknown(name, exc)
    status = described.get("status", "")
    if status not in _ENDED:
        return Liveness(RUNNING)
    return Liveness(CRASHED, _sentence(sfn, arn, described), ended=True)


def _unknown(name: str, exc: BaseException) -> Liveness:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return Liveness(RUNNING, f"Step Functions could not be asked about execution {name} "
                             f"({first}), so the run counts as running")


def _when(value: dt.datetime) -> str:
    return f"{value.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def _sentence(sfn: Any, arn: str, described: dict[str, Any]) -> str:
    """What ended the execution, in one sentence (like the local scheduler's failures)."""
    status = described["status"]
    name = described.get("name") or arn.rsplit(":", 1)[-1]
    start, stop = described.get("startDate"), described.get("stopDate")
    at = f" at {_when(stop)}" if isinstance(stop, dt.datetime) else ""
    took = (f" after {(stop - start).total_seconds():.0f} s"
            if isinstance(start, dt.datetime) and isinstance(stop, dt.datetime) else "")
    why = ": ".join(p for p in (described.get("error"), _short(described.get("cause"))) if p)
    if status == "ABORTED":
        why = why or _abort_reason(sfn, arn)
        return (f"its Step Functions execution {name} was stopped (StopExecution){at}{took}"
                + (f" ({why})" if why else ""))
    if status == "TIMED_OUT":
        limit = _timeout_seconds(sfn, arn)
        limit_text = f"its {limit} s limit" if limit else "its limit"
        return (f"its Step Functions execution {name} timed out{at}{took}: it ran longer than "
                f"{limit_text} (TimeoutSeconds, set by 'step-functions create "
                "--workflow-timeout')")
    if status == "SUCCEEDED":
        return (f"its Step Functions execution {name} succeeded{at} but the run's end was "
                "never recorded")
    state = _failed_state(sfn, arn)
    where = f" in state '{state}'" if state else ""
    return (f"its Step Functions execution {name} failed{where}{at} and no task recorded why"
            + (f" ({why})" if why else ""))


def _timeout_seconds(sfn: Any, arn: str) -> int | None:
    """The TimeoutSeconds of the definition the execution ran (None: unknown)."""
    import json

    try:
        described = sfn.describe_state_machine_for_execution(executionArn=arn)
        return int(json.loads(described["definition"])["TimeoutSeconds"])
    except Exception:  # noqa: BLE001 - the sentence just says less
        return None


def _abort_reason(sfn: Any, arn: str) -> str:
    """``error: cause`` given to StopExecution (e.g. by ``step-functions terminate``), from the
    ExecutionAborted event when DescribeExecution leaves them out (moto does). Newest first:
    on AWS the first event read; a few pages at most (moto ignores ``reverseOrder``)."""
    try:
        pages = sfn.get_paginator("get_execution_history").paginate(
            executionArn=arn, reverseOrder=True, PaginationConfig={"MaxItems": 1000,
                                                                   "PageSize": 100})
        for page in pages:
            for event in page.get("events", []):
                details = event.get("executionAbortedEventDetails")
                if details is not None:
                    return ": ".join(p for p in (details.get("error"),
                                                 _short(details.get("cause"))) if p)
    except Exception:  # noqa: BLE001 - the sentence just says less
        return ""
    return ""


def _failed_state(sfn: Any, arn: str) -> str | None:
    """The state the execution last entered (one GetExecutionHistory page, newest first)."""
    try:
        events = sfn.get_execution_history(executionArn=arn, reverseOrder=True,
                                           maxResults=25).get("events", [])
    except Exception:  # noqa: BLE001 - the sentence just says less
        return None
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details and details.get("name"):
            return str(details["name"])
    return None


def _short(cause: str | None, limit: int = 300) -> str:
    if not cause:
        return ""
    text = " ".join(str(cause).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _client(arn: str) -> Any:
    """A Step Functions client of the effective profile, in the execution's region, that fails
    fast (a status read must not ride out a ten-minute outage like the stores do)."""
    import os

    from botocore.config import Config

    from flowlib.config import effective_profile
    from flowlib.config.aws import AwsContext

    region = arn.split(":")[3] if arn.count(":") >= 6 else None
    key = (os.getpid(), region or "")
    client = _clients.get(key)
    if client is None:
        context = AwsContext(effective_profile())
        config = Config(region_name=region or context.region, connect_timeout=5,
                        read_timeout=15, retries={"mode": "standard", "max_attempts": 3})
        client = _clients[key] = context.session.client("stepfunctions", config=config)
    return client
