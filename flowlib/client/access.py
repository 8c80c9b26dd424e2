"""Reading a run's records as a client object may: pathspecs parsed with one clear error, runs
removed by retention said so, and the namespace rule (a run outside the current namespace is
refused with Metaflow's exception)."""

from __future__ import annotations

import datetime as dt

from flowlib.client.namespace import get_namespace
from flowlib.exceptions import FlowlibError, NamespaceMismatchError, NotFoundError
from flowlib.metadata.records import RunRecord


def split_pathspec(pathspec: str, parts: int, kind: str) -> list[str]:
    items = pathspec.strip("/").split("/") if isinstance(pathspec, str) else []
    if len(items) != parts or not all(items):
        example = "/".join(["FlowName", "12", "train", "5"][:parts])
        raise FlowlibError(f"{kind}('{pathspec}'): expected a pathspec like '{example}'.")
    return items


def utc_time(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, dt.timezone.utc) if value else None


def check_retained(run: RunRecord, what: str) -> None:
    """A run gc removed (or is removing) says so, instead of failing on a missing object."""
    if run.retention is not None:
        when = utc_time(run.removed_at)
        date = when.strftime("%Y-%m-%d %H:%M UTC") if when else "an unknown date"
        state = "was removed" if run.retention == "removed" else "is being removed"
        raise NotFoundError(
            f"{what}: run {run.run_id} {state} by retention on {date} (flowlib gc); pin runs "
            "you need with 'flowlib pin'."
        )


def check_namespace(run: RunRecord, what: str) -> None:
    ns = get_namespace()
    if ns is not None and ns not in run.system_tags and ns not in run.tags:
        raise NamespaceMismatchError(
            f"{what} is not in the namespace '{ns}'. Call namespace(None) to see every run, or "
            f"namespace('user:{run.user}') for that user's runs."
        )
