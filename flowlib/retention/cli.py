"""``flowlib gc``, ``flowlib pin`` / ``unpin`` and ``flowlib cost``: thin click commands over
``flowlib.retention`` and ``flowlib.cost`` (registered on the ``flowlib`` group)."""

from __future__ import annotations

import json
from typing import Any

import click

from flowlib.exceptions import FlowlibError


def _stores(profile: str | None) -> Any:
    from flowlib.config import effective_profile
    from flowlib.stores import stores_for

    return stores_for(effective_profile(profile))


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _ids(ids: list[str]) -> str:
    return ", ".join(ids[:20]) + (f" ... ({len(ids)} runs)" if len(ids) > 20 else "")


@click.command("gc")
@click.option("--profile", "-p", default=None, help="Profile whose stores to collect.")
@click.option("--flow", "flows", multiple=True, help="Only this flow (repeatable).")
@click.option("--keep-last", type=int, default=None,
              help="Keep the last N runs per flow and @project branch (overrides the profile).")
@click.option("--keep-days", type=float, default=None,
              help="Keep runs younger than D days (overrides the profile).")
@click.option("--grace-hours", type=float, default=None,
              help="Delete only blobs older than this; must exceed the longest run "
              "(default: the profile's, else 168).")
@click.option("--delete-all", is_flag=True,
              help="Allow a policy keeping no runs by number or age (--keep-last 0).")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--yes", is_flag=True, help="Delete without asking.")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
def gc_command(profile: str | None, flows: tuple[str, ...], keep_last: int | None,
               keep_days: float | None, grace_hours: float | None, delete_all: bool,
               dry_run: bool, yes: bool, output: str) -> None:
    """Delete runs the retention policy does not keep, and blobs no kept run references.

    Runs tagged keep or production, running runs and the latest successful run of each flow
    are always kept. Needs delete rights on the bucket and table (an operator's credentials).

    Example: flowlib gc --flow TrainFlow --keep-last 20 --keep-days 30 --dry-run
    """
    from flowlib.config import effective_profile
    from flowlib.retention import collect, plan_gc, policy_for
    from flowlib.retention.policy import flow_policies

    if dry_run == yes:
        raise FlowlibError("Say --dry-run to list what would be deleted, or --yes to delete it.")
    resolved = effective_profile(profile)
    policy = policy_for(resolved, keep_last, keep_days, grace_hours)
    per_flow = flow_policies(resolved, policy, keep_last, keep_days)
    if not per_flow or (set(flows) - set(per_flow)) or not flows:
        policy.check(delete_all)
    for flow_policy in per_flow.values():
        flow_policy.check(delete_all)
    stores = _stores(profile)
    known = set(stores.metadata.list_flows())
    for flow in flows:
        if flow not in known:
            raise FlowlibError(f"Flow '{flow}' has no runs in {stores.description}.")
    plan = plan_gc(stores, policy, list(flows) or None, per_flow=per_flow)
    data = plan.to_dict()
    if not dry_run:
        report = collect(stores, plan)
        data["done"] = {"runs_removed": report.runs_removed, "runs_skipped": report.runs_skipped,
                        "blobs_deleted": report.blobs_deleted, "bytes_freed": report.bytes_freed,
                        "blobs_spared": report.blobs_spared}
    if output == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"policy: {data['policy']} ({stores.description})")
    verb = "would remove" if dry_run else "removed"
    for f in data["flows"]:
        if f["policy"] != data["policy"]:
            click.echo(f"{f['flow']}: policy: {f['policy']}")
        click.echo(
            f"{f['flow']}: {verb} {len(f['removed_runs'])} runs"
            + (f" ({_ids(f['removed_runs'])})" if f["removed_runs"] else "")
            + f", kept {len(f['kept_runs'])}; {verb} {f['blobs_deleted']} blobs, "
            f"{_human(f['bytes_freed'])} of {_human(f['bytes_total'])}"
            + (f"; {f['unreferenced_within_grace']} unreferenced blobs are within the grace "
               "period" if f["unreferenced_within_grace"] else "")
            + (f"; {f['held_by_deployments']} blobs are held by deployments"
               if f["held_by_deployments"] else "")
        )
    if not dry_run and any(data["done"]["runs_skipped"].values()):
        click.echo("skipped (running or pinned meanwhile): " + json.dumps(
            {k: v for k, v in data["done"]["runs_skipped"].items() if v}))


def _run_of(stores: Any, pathspec: str) -> Any:
    parts = pathspec.strip("/").split("/")
    if len(parts) != 2 or not all(parts):
        raise FlowlibError(f"'{pathspec}' is not a run: write it as FlowName/RUN_ID, e.g. "
                           "TrainFlow/42.")
    run = stores.metadata.get_run(*parts)
    if run is None:
        raise FlowlibError(f"Run '{pathspec}' does not exist in {stores.description}.")
    if run.retention is not None:
        raise FlowlibError(f"Run '{pathspec}' was removed by retention (flowlib gc).")
    return run


@click.command("pin")
@click.argument("run")
@click.option("--profile", "-p", default=None)
def pin_command(run: str, profile: str | None) -> None:
    """Keep a run (and its artifacts and logs) whatever the retention policy: tag it 'keep'.

    Example: flowlib pin TrainFlow/42
    """
    _set_pinned(run, profile, pinned=True)


@click.command("unpin")
@click.argument("run")
@click.option("--profile", "-p", default=None)
def unpin_command(run: str, profile: str | None) -> None:
    """Let the retention policy decide about a run again (removes the 'keep' tag).

    Example: flowlib unpin TrainFlow/42
    """
    _set_pinned(run, profile, pinned=False)


def _set_pinned(run: str, profile: str | None, pinned: bool) -> None:
    from flowlib.retention.policy import PIN_TAG

    stores = _stores(profile)
    record = _run_of(stores, run)
    change = stores.metadata.add_tags if pinned else stores.metadata.remove_tags
    change(record.flow, record.run_id, [PIN_TAG])
    click.echo(f"{'pinned' if pinned else 'unpinned'} {record.flow}/{record.run_id} "
               f"(tag '{PIN_TAG}')")


@click.command("cost")
@click.argument("run", required=False)
@click.option("--profile", "-p", default=None)
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
@click.option("--refresh-prices", is_flag=True,
              help="Fetch on-demand instance prices from the AWS Price List API first.")
@click.option("--region", default=None,
              help="Region to price with --refresh-prices (default: the profile's).")
def cost_command(run: str | None, profile: str | None, output: str, refresh_prices: bool,
                 region: str | None) -> None:
    """What a run cost: compute per step and attempt, storage, and a dollar total.

    Examples: flowlib cost TrainFlow/42 -o json;
    flowlib cost --refresh-prices [--region eu-west-1] [TrainFlow/42]
    """
    from flowlib.cost import run_cost

    if refresh_prices:
        _refresh_prices(profile, region)
    elif run is None:
        raise click.UsageError("Give a run (e.g. flowlib cost TrainFlow/42) or "
                               "--refresh-prices.")
    if run is None:
        return
    stores = _stores(profile)
    record = _run_of(stores, run)
    cost = run_cost(stores, record.flow, record.run_id)
    click.echo(json.dumps(cost.to_dict(), indent=2) if output == "json" else str(cost))


def _refresh_prices(profile_name: str | None, region: str | None) -> None:
    from flowlib.config import effective_profile
    from flowlib.config.aws import AwsContext
    from flowlib.cost.pricelist import refresh_price_table
    from flowlib.cost.prices import describe, stored_table_path

    profile = effective_profile(profile_name)
    aws = AwsContext(profile)
    table = refresh_price_table(aws.session, region or profile["region"] or "us-east-1")
    click.echo(f"prices: {describe(table)} -> {stored_table_path()}")


def register(group: click.Group) -> None:
    for command in (gc_command, pin_command, unpin_command, cost_command):
        group.add_command(command)
