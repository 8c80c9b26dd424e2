"""The Starlette application: routes that read (``queries.UiData``) and render templates.

Read-only by construction: every route is a GET. User text reaches pages only through
Jinja2's autoescaping. Cards are served with a ``sandbox`` Content-Security-Policy and shown
in ``<iframe sandbox="allow-scripts">``, so a card's scripts never run with the UI's origin.
Only Host headers naming this machine are accepted (a web page elsewhere cannot reach the
server through DNS rebinding).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from flowlib.exceptions import FlowlibError, NotFoundError
from flowlib.metadata.records import FAILED, INTERRUPTED, PENDING, RUNNING, SUCCEEDED
from flowlib.ui import queries
from flowlib.ui.queries import UiData, parse_filter

STATUSES = [RUNNING, SUCCEEDED, FAILED, INTERRUPTED, PENDING]
CARD_CSP = ("sandbox allow-scripts; default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline' 'unsafe-eval'")
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'")


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([
            jinja2.PackageLoader("flowlib.ui", "templates"),
            jinja2.PackageLoader("flowlib.cards", "templates"),
        ]),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(when=queries.when, duration=queries.duration, statuses=STATUSES)
    return Jinja2Templates(env=env)


def create_app(stores: Any, allowed_hosts: list[str] | None = None) -> Starlette:
    # Routes are plain functions: Starlette runs them in its thread pool, so a slow store
    # (S3, DynamoDB) never blocks the server's event loop.
    data = UiData(stores)
    templates = _templates()

    def page(request: Request, name: str, **context: Any) -> Response:
        context.setdefault("store", stores.description)
        response = templates.TemplateResponse(request, name, context)
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    def flows(request: Request) -> Response:
        return page(request, "flows.html", flows=data.flows())

    def runs(request: Request) -> Response:
        flow = request.path_params["flow"]
        params = request.query_params
        filter = parse_filter(params)
        before = params.get("before") or None
        result = data.runs(flow, filter, before)
        kept = {k: v for k, v in params.items() if k != "before" and v}
        older = (f"?{urlencode({**kept, 'before': result.next_before})}"
                 if result.next_before else None)
        return page(request, "runs.html", flow=flow, page=result, query=params, older=older,
                    filtered=bool(kept))

    def run(request: Request) -> Response:
        flow, run_id = request.path_params["flow"], request.path_params["run_id"]
        view = data.run_view(flow, run_id)
        base = f"/runs/{flow}/{run_id}"
        links = {s.name: view.link(base, s) for s in view.steps if s.tasks}
        return page(request, "run.html", view=view, links=links, base=base)

    def run_status(request: Request) -> Response:
        view = data.run_view(request.path_params["flow"], request.path_params["run_id"])
        return JSONResponse({
            "status": view.run.status,
            "steps": {s.name: {"status": s.status, "tasks": s.tasks, "counts": s.by_status,
                               "duration": s.duration} for s in view.steps},
        })

    def step(request: Request) -> Response:
        p = request.path_params
        tasks = data.step_tasks(p["flow"], p["run_id"], p["step"])
        status = request.query_params.get("status") or None
        shown = [t for t in tasks if status is None or t.status == status]
        offset = max(int(request.query_params.get("offset") or 0), 0)
        return page(request, "step.html", flow=p["flow"], run_id=p["run_id"], step=p["step"],
                    tasks=shown[offset: offset + queries.TASKS_PER_PAGE], total=len(shown),
                    offset=offset, per_page=queries.TASKS_PER_PAGE, status=status,
                    all_count=len(tasks), step_status=queries.step_status(tasks))

    def _task(request: Request) -> Any:
        p = request.path_params
        return data.task(p["flow"], p["run_id"], p["step"], p["task_id"])

    def _attempt(request: Request, attempts: list[Any]) -> int:
        raw = request.query_params.get("attempt")
        if raw is None:
            return attempts[-1].attempt if attempts else 0
        try:
            return int(raw)
        except ValueError:
            raise HTTPException(400, "attempt must be a number") from None

    def task(request: Request) -> Response:
        record = _task(request)
        attempts = data.attempts(record)
        attempt = _attempt(request, attempts)
        chosen = next((a for a in attempts if a.attempt == attempt), None)
        cards = [c for c in data.cards(record) if c.attempt == attempt]
        logs = {s: data.log(record, attempt, s) for s in ("stdout", "stderr")}
        return page(request, "task.html", task=record, attempts=attempts, attempt=attempt,
                    chosen=chosen, artifacts=data.artifacts(record, attempt if chosen else None),
                    cards=cards, logs=logs,
                    base=f"/runs/{record.flow}/{record.run_id}/{record.step}/{record.task_id}")

    def task_logs(request: Request) -> Response:
        record = _task(request)
        attempts = data.attempts(record)
        attempt = _attempt(request, attempts)
        chosen = next((a for a in attempts if a.attempt == attempt), None)
        return JSONResponse({
            "status": chosen.status if chosen else record.status,
            "stdout": data.log(record, attempt, "stdout"),
            "stderr": data.log(record, attempt, "stderr"),
        })

    def artifact(request: Request) -> Response:
        record = _task(request)
        raw = request.query_params.get("attempt")
        body, filename = data.artifact_bytes(
            record, request.path_params["name"], int(raw) if raw is not None else None)
        return Response(body, media_type="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{_safe_filename(filename)}"'})

    def card(request: Request) -> Response:
        record = _task(request)
        html = data.card_html(record, int(request.path_params["attempt"]),
                              int(request.path_params["index"]))
        return HTMLResponse(html, headers={"Content-Security-Policy": CARD_CSP,
                                           "X-Content-Type-Options": "nosniff"})

    def compare(request: Request) -> Response:
        left, right = request.query_params.get("a", ""), request.query_params.get("b", "")
        if not left or not right:
            return page(request, "compare.html", result=None, left=left, right=right)
        return page(request, "compare.html", result=data.compare(left, right), left=left,
                    right=right)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(request, 404, str(exc))

    async def bad_request(request: Request, exc: Exception) -> Response:
        return _error(request, 400, str(exc))

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, exc.detail)

    def _error(request: Request, code: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=code)
        response = page(request, "error.html", code=code, message=message)
        response.status_code = code
        return response

    task_path = "/runs/{flow}/{run_id}/{step}/{task_id}"
    routes = [
        Route("/", flows),
        Route("/flows/{flow}", runs),
        Route("/runs/{flow}/{run_id}", run),
        Route("/runs/{flow}/{run_id}/{step}", step),
        Route(task_path, task),
        Route(task_path + "/artifacts/{name}", artifact),
        Route(task_path + "/cards/{attempt:int}/{index:int}", card),
        Route("/api/runs/{flow}/{run_id}/status", run_status),
        Route("/api" + task_path + "/logs", task_logs),
        Route("/compare", compare),
        Mount("/static", StaticFiles(packages=[("flowlib.ui", "static"),
                                               ("flowlib.cards", "templates")]),
              name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware,
                               allowed_hosts=allowed_hosts or ["127.0.0.1", "localhost"])],
        exception_handlers={NotFoundError: not_found, FlowlibError: bad_request,
                            HTTPException: http_error},
    )


def _safe_filename(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:120] or "artifact"
