"""The Lambda function behind the environment's HTTP API (``flowlib.http_api.handler.handler``).

API Gateway (HTTP API, payload format 2.0) has already matched the route, checked the caller's
SigV4 signature against IAM (``AWS_IAM`` on every route) and parsed the path: the event carries
``routeKey``, ``pathParameters``, the body (base64 when ``isBase64Encoded``) and the caller's
identity (``requestContext.authorizer.iam``). The payload is plain JSON, so this module needs
no web framework: it decodes the body, dispatches on ``routeKey`` and returns
``{"statusCode", "headers", "body"}``.

* ``POST /flows/{flow}/runs``: body ``{"parameters": {...}, "branch": "test.x"}`` (both
  optional). The deployment is found from its record (``lookup.find_deployment``), the values
  are checked against the parameter types recorded at ``create`` time (``inputs.check_values``)
  and the run starts through ``Deployer.trigger``, the code path of ``step-functions trigger``.
  202 with ``run_id``, ``pathspec``, ``execution_arn`` and the status URL.
* ``GET /flows/{flow}/runs/{id}``: the run as the client sees it (``Run(...).status``:
  running, succeeded, failed, interrupted or crashed). 200.

Errors, each one JSON object ``{"message": ...}``: 400 for a body that is not JSON or not an
object, an unknown field, a parameter unknown or of the wrong type (named, with
``"parameters": [...]`` listing the names); 404 for a flow that is not deployed (or a branch
that is not) and a run that does not exist; 409 for a deployment that matches ambiguously or
was made by a flowlib too old to record its parameters; 500, with the request id, for a bug
(the traceback goes to the function's log).

The function runs with the environment's profile from its variables (``FLOWLIB_CONFIG=env``,
``FLOWLIB_S3_BUCKET``...; see terraform/modules/http_api). A run started here is tagged
``trigger:http`` and ``http_caller:<IAM ARN of the caller>``, and its user is the caller's
name (the last part of that ARN).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from flowlib.exceptions import FlowlibError, NotFoundError

START_ROUTE = "POST /flows/{flow}/runs"
STATUS_ROUTE = "GET /flows/{flow}/runs/{id}"
CALLER_TAG = "http_caller:"
_BODY_FIELDS = ("parameters", "branch")

log = logging.getLogger(__name__)


class HttpError(Exception):
    """A request the endpoint refuses: its status and one message (and extra fields)."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point (payload format 2.0)."""
    route = event.get("routeKey")
    try:
        if route == START_ROUTE:
            return respond(202, start_run(event))
        if route == STATUS_ROUTE:
            return respond(200, run_status(event))
        raise HttpError(404, f"No route {route!r}: use {START_ROUTE} or {STATUS_ROUTE}.")
    except HttpError as exc:
        return respond(exc.status, {"message": exc.message, **exc.extra})
    except Exception:  # noqa: BLE001 - our bug: logged whole, answered as one message
        request = getattr(context, "aws_request_id", None) or "unknown"
        log.exception("request %s (%s) failed", request, route)
        return respond(500, {"message": f"Internal error (request {request}); the function's "
                                        "log has the details."})


def respond(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> dict[str, Any]:
    return {"statusCode": status,
            "headers": {"content-type": "application/json", **(headers or {})},
            "body": json.dumps(body, sort_keys=True, default=str)}


# -- the routes -----------------------------------------------------------------------------
def start_run(event: dict[str, Any]) -> dict[str, Any]:
    from flowlib.remote.stepfunctions.inputs import InputError, check_values
    from flowlib.remote.stepfunctions.lookup import Ambiguous, NotDeployed, find_deployment

    flow = _path(event, "flow")
    body = _body(event)
    branch = body.get("branch")
    if branch is not None and (not isinstance(branch, str) or not branch):
        raise HttpError(400, "'branch' must be a project branch name such as \"prod\" or "
                             "\"test.nightly\".")
    stores = _stores()
    try:
        deployer, record = find_deployment(stores, flow, branch)
    except NotDeployed as exc:
        raise HttpError(404, str(exc)) from None
    except Ambiguous as exc:
        raise HttpError(409, str(exc)) from None
    if record.parameters is None:
        raise HttpError(409, f"The deployment {record.name} was created by a flowlib that did "
                             "not record its parameters: run 'step-functions create' again.")
    try:
        values = check_values(record.parameters, body.get("parameters"))
    except InputError as exc:
        raise HttpError(400, str(exc), parameters=exc.names) from None
    caller = _caller(event)
    tags = [f"{CALLER_TAG}{caller}"] if caller else []
    started = deployer.trigger(record, values, "http", tags=tags, user=_user(caller))
    return {"flow": flow, "run_id": started.run_id, "pathspec": started.pathspec,
            "execution_arn": started.execution_arn, "deployment": record.name,
            "branch": record.branch, "status": "running",
            "status_url": f"/flows/{flow}/runs/{started.run_id}"}


def run_status(event: dict[str, Any]) -> dict[str, Any]:
    from flowlib.client import Run

    flow, run_id = _path(event, "flow"), _path(event, "id")
    stores = _stores()
    pathspec = f"{flow}/{run_id}"
    try:
        # Every run of the environment, whoever started it: the record is read here and
        # handed over, so the client's namespace (the Lambda's "user") does not apply.
        record = stores.metadata.get_run(flow, run_id)
        if record is None:
            raise NotFoundError(f"Run '{pathspec}' does not exist in {stores.description}.")
        run = Run(pathspec, _record=record)
    except FlowlibError as exc:  # not there, removed by retention, a malformed id
        raise HttpError(404, str(exc)) from None
    execution = next((t.split(":", 1)[1] for t in sorted(run.tags)
                      if t.startswith("step_functions_execution:")), None)
    return {"flow": flow, "run_id": run.id, "pathspec": run.pathspec, "status": run.status,
            "successful": run.successful, "finished": run.finished,
            "created_at": _iso(run.created_at), "finished_at": _iso(run.finished_at),
            "execution": execution, "tags": sorted(run.tags)}


# -- the request ----------------------------------------------------------------------------
def _path(event: dict[str, Any], name: str) -> str:
    value = (event.get("pathParameters") or {}).get(name)
    if not value:
        raise HttpError(400, f"The path has no {{{name}}}.")
    return str(value)


def _body(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded") and raw:
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise HttpError(400, "The request body is not UTF-8 JSON.") from None
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HttpError(400, f"The request body is not valid JSON ({exc.msg} at line "
                             f"{exc.lineno} column {exc.colno}); send "
                             '{"parameters": {"name": value}}.') from None
    if not isinstance(body, dict):
        raise HttpError(400, 'The request body must be a JSON object: '
                             '{"parameters": {"name": value}, "branch": "prod"}.')
    unknown = sorted(set(body) - set(_BODY_FIELDS))
    if unknown:
        raise HttpError(400, f"Unknown field '{unknown[0]}' in the request body; the fields "
                             f"are {', '.join(_BODY_FIELDS)}.")
    return body


def _caller(event: dict[str, Any]) -> str | None:
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    return iam.get("userArn") or None


def _user(caller: str | None) -> str:
    """``alice`` from ``arn:aws:iam::1:user/alice``; the session from an assumed role."""
    if not caller:
        return "http"
    return caller.rsplit("/", 1)[-1] or "http"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _stores() -> Any:
    from flowlib.stores import open_stores

    stores = open_stores()
    if stores.profile is None or not stores.profile.is_aws:
        raise HttpError(500, "The function's profile is not an AWS profile (datastore s3, "
                             "metadata dynamodb): check its FLOWLIB_* variables.")
    return stores
