"""``python flow.py kubernetes list`` and ``kubernetes kill``: the flow's Jobs on the cluster.

Jobs are found by flowlib's labels (flow and store, see ``jobs.store_id``), in the profile's
namespace and every namespace the flow's ``@kubernetes`` steps name. The flow CLI adds the
group on use, from the backend's entry in ``flowlib/backends.py``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from flowlib.exceptions import FlowlibError
from flowlib.remote.kubernetes import jobs


def _status(job: dict[str, Any]) -> str:
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            reason = condition.get("reason")
            return "Succeeded" if condition["type"] == "Complete" else (
                f"Failed ({reason})" if reason else "Failed")
    if status.get("succeeded"):
        return "Succeeded"
    if status.get("failed"):
        return "Failed"
    return "Running" if status.get("active") else "Pending"


def _finished(job: dict[str, Any]) -> bool:
    return _status(job).startswith(("Succeeded", "Failed"))


class _Cluster:
    """The flow's Jobs in this profile's stores, across the namespaces the flow uses."""

    def __init__(self, ctx: click.Context) -> None:
        from kubernetes import client

        from flowlib.remote.kubernetes.auth import api_client
        from flowlib.stores import open_stores

        flow_ctx = ctx.obj
        self.flow = flow_ctx.name
        stores = open_stores()
        profile = stores.profile
        self.store = jobs.store_id(stores.description)
        self.api = api_client(profile)
        self.batch = client.BatchV1Api(self.api)
        namespaces = {jobs._profile_value(profile, "kubernetes_namespace")
                      or jobs.DEFAULT_NAMESPACE}
        try:
            for node in flow_ctx.graph:
                for decorator in node.decorators:
                    if decorator.name == "kubernetes" and decorator.namespace:
                        namespaces.add(decorator.namespace)
        except Exception:  # noqa: BLE001 - a flow that does not parse still has jobs to list
            pass
        self.namespaces = sorted(namespaces)

    def jobs(self, run_id: str | None) -> list[dict[str, Any]]:
        wanted = {jobs.label("flow"): jobs.label_value(self.flow), jobs.label("store"): self.store}
        if run_id:
            wanted[jobs.label("run")] = jobs.label_value(run_id)
        selector = ",".join(f"{k}={v}" for k, v in wanted.items())
        found = []
        for namespace in self.namespaces:
            try:
                response = self.batch.list_namespaced_job(
                    namespace, label_selector=selector, _preload_content=False)
            except Exception as exc:  # noqa: BLE001 - ApiException, connection errors
                raise FlowlibError(
                    f"Cannot list Jobs in namespace {namespace}: {exc}") from None
            for item in json.loads(response.data).get("items") or []:
                labels = (item.get("metadata") or {}).get("labels") or {}
                if all(labels.get(k) == v for k, v in wanted.items()):  # selector ignored?
                    found.append(item)
        return sorted(found, key=lambda j: (
            _int(j["metadata"]["labels"].get(jobs.label("run"))),
            _int(j["metadata"]["labels"].get(jobs.label("task"))),
            _int(j["metadata"]["labels"].get(jobs.label("attempt")))))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _row(job: dict[str, Any]) -> dict[str, Any]:
    meta = job["metadata"]
    labels = meta.get("labels") or {}
    return {
        "job": meta["name"],
        "namespace": meta.get("namespace"),
        "pathspec": (meta.get("annotations") or {}).get(jobs.PATHSPEC_ANNOTATION),
        "attempt": _int(labels.get(jobs.label("attempt"))),
        "user": labels.get(jobs.label("user")),
        "status": _status(job),
    }


def kubernetes_group(flow_cls: type | None = None) -> click.Group:
    @click.group(
        "kubernetes",
        help="This flow's Kubernetes Jobs.\n\nExample: python flow.py kubernetes list --run-id 3",
    )
    def group() -> None:
        pass

    @group.command("list", help="List the flow's Jobs (all runs, or one with --run-id).\n\n"
                   "Example: python flow.py kubernetes list --run-id 3 --output json")
    @click.option("--run-id", default=None, help="Only this run's Jobs.")
    @click.option("--all", "show_all", is_flag=True, help="Include finished Jobs.")
    @click.option("--output", type=click.Choice(["table", "json"]), default="table")
    @click.pass_context
    def list_jobs(ctx: click.Context, run_id: str | None, show_all: bool, output: str) -> None:
        cluster = _Cluster(ctx)
        rows = [_row(j) for j in cluster.jobs(run_id) if show_all or not _finished(j)]
        if output == "json":
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            what = "Jobs" if show_all else "unfinished Jobs (--all shows finished ones)"
            click.echo(f"No {what} of {cluster.flow} in namespaces "
                       f"{', '.join(cluster.namespaces)}.")
            return
        header = ("PATHSPEC", "ATTEMPT", "STATUS", "USER", "NAMESPACE", "JOB")
        table = [header] + [
            (r["pathspec"] or "?", str(r["attempt"]), r["status"], r["user"] or "",
             r["namespace"] or "", r["job"]) for r in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            click.echo("  ".join(cells).rstrip())

    @group.command("kill", help="Stop the flow's unfinished Jobs (one run's with --run-id). "
                   "The runs see their tasks fail; resume them later.\n\n"
                   "Example: python flow.py kubernetes kill --run-id 3 --yes")
    @click.option("--run-id", default=None, help="Only this run's Jobs.")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @click.pass_context
    def kill_jobs(ctx: click.Context, run_id: str | None, yes: bool) -> None:
        cluster = _Cluster(ctx)
        targets = [j for j in cluster.jobs(run_id) if not _finished(j)]
        scope = f"run {cluster.flow}/{run_id}" if run_id else f"all runs of {cluster.flow}"
        if not targets:
            click.echo(f"No unfinished Jobs of {scope}.")
            return
        if not yes:
            click.confirm(f"Delete {len(targets)} unfinished Job(s) of {scope}?", abort=True)
        for job in targets:
            meta = job["metadata"]
            try:
                cluster.batch.delete_namespaced_job(
                    meta["name"], meta.get("namespace") or jobs.DEFAULT_NAMESPACE,
                    propagation_policy="Background")
            except Exception as exc:  # noqa: BLE001 - report and go on with the others
                click.echo(f"Could not delete {meta['name']}: {exc}", err=True)
                continue
            click.echo(f"Killed {(meta.get('annotations') or {}).get(jobs.PATHSPEC_ANNOTATION)}"
                       f" ({meta['name']}).")

    return group
