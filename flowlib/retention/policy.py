"""The retention policy: which runs of a flow are kept.

A run is kept when any rule says so:

* it is not finished (status ``running``): a running run is never touched. A run whose
  runtime died (status still ``running``, shown ``crashed``: ``flowlib.metadata.liveness``)
  counts as running until it has not been heard from (heartbeat, else creation) for longer
  than ``crash_margin``: the grace period (longer than any run, so the runtime cannot still be
  at work, merely cut off from the store) and at least ten heartbeat timeouts. Then it is
  treated like a failed run;
* it carries a protecting tag: ``keep`` (``flowlib pin``), ``production``, any
  ``production:*`` tag, or the system tag ``project_branch:prod``;
* it is younger than ``keep_days`` days;
* it is among the ``keep_last`` newest runs of its flow and ``@project`` branch (the branch is
  the run's ``project_branch:<name>`` system tag; runs without one form one group);
* it is the latest successful run of its flow and branch (always, whatever the numbers say).

Everything else is removed. The policy comes from the profile (``retention_keep_last``,
``retention_keep_days``, ``retention_grace_hours``), with per-flow overrides (the maps
``retention_flow_keep_last`` / ``retention_flow_keep_days``: flow name -> value); command-line
flags override both for one call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flowlib.exceptions import FlowlibError
from flowlib.metadata.liveness import CRASHED, effective_status, last_seen, stale_after
from flowlib.metadata.records import RUNNING, SUCCEEDED, RunRecord

PIN_TAG = "keep"
PROTECT_TAGS = (PIN_TAG, "production", "project_branch:prod")
DEFAULT_GRACE_HOURS = 7 * 24.0  # must exceed the longest run (see ``gc``)
DAY = 86400.0


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int | None = None
    keep_days: float | None = None
    grace_hours: float = DEFAULT_GRACE_HOURS

    def check(self, allow_delete_all: bool = False) -> None:
        """Refuse a policy that would delete every finished run not pinned."""
        if self.keep_last is None and self.keep_days is None:
            raise FlowlibError(
                "No retention policy: give --keep-last N and/or --keep-days D, or set "
                "retention_keep_last / retention_keep_days in the profile."
            )
        if (self.keep_last or 0) < 0 or (self.keep_days or 0) < 0 or self.grace_hours < 0:
            raise FlowlibError("--keep-last, --keep-days and --grace-hours must be >= 0.")
        if not self.keep_last and not self.keep_days and not allow_delete_all:
            raise FlowlibError(
                "This policy (keep the last 0 runs, no age limit) would delete every run that "
                "is not pinned or the latest successful one. Pass --delete-all if you mean it, "
                "or keep some runs with --keep-last N / --keep-days D."
            )

    def describe(self) -> str:
        parts = []
        if self.keep_last is not None:
            parts.append(f"the last {self.keep_last} runs per flow and branch")
        if self.keep_days is not None:
            parts.append(f"runs younger than {self.keep_days:g} days")
        parts += ["pinned/production runs", "the latest successful run",
                  "running runs (crashed ones only until silent for the grace period)"]
        return "keep " + ", ".join(parts) + f"; blobs older than {self.grace_hours:g} h only"


def is_protected(run: RunRecord) -> bool:
    return any(t in PROTECT_TAGS or t.startswith("production:")
               for t in (*run.tags, *run.system_tags))


def branch_of(run: RunRecord) -> str | None:
    return next((t.split(":", 1)[1] for t in run.system_tags
                 if t.startswith("project_branch:")), None)


def crash_margin(policy: RetentionPolicy) -> float:
    """Seconds without a sign of life after which a run recorded as running is collectable."""
    return max(policy.grace_hours * 3600, 10 * stale_after())


def is_crashed_long_ago(run: RunRecord, policy: RetentionPolicy, now: float) -> bool:
    """A run still recorded as running whose runtime is dead beyond doubt (see the module)."""
    return (run.status == RUNNING and effective_status(run, now) == CRASHED
            and now - last_seen(run) > crash_margin(policy))


def kept_runs(runs: Iterable[RunRecord], policy: RetentionPolicy, now: float
              ) -> tuple[list[RunRecord], list[RunRecord]]:
    """Split runs (of one flow, newest first, none removed) into (kept, to remove)."""
    kept: list[RunRecord] = []
    remove: list[RunRecord] = []
    seen: dict[str | None, int] = {}
    successful_seen: set[str | None] = set()
    for run in runs:
        branch = branch_of(run)
        rank = seen.get(branch, 0)
        seen[branch] = rank + 1
        latest_success = run.status == SUCCEEDED and branch not in successful_seen
        if run.status == SUCCEEDED:
            successful_seen.add(branch)
        keep = (
            (run.status == RUNNING and not is_crashed_long_ago(run, policy, now))
            or is_protected(run)
            or latest_success
            or (policy.keep_days is not None and run.created >= now - policy.keep_days * DAY)
            or (policy.keep_last is not None and rank < policy.keep_last)
        )
        (kept if keep else remove).append(run)
    return kept, remove


def _number(value: Any, key: str, kind: type) -> Any:
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise FlowlibError(f"Profile key {key} must be a number, got {value!r}.") from None


def policy_for(profile: Any, keep_last: int | None = None, keep_days: float | None = None,
               grace_hours: float | None = None) -> RetentionPolicy:
    """The profile's policy with the given overrides (None = the profile's value)."""

    def get(key: str) -> Any:
        try:
            return profile[key] if profile is not None else None
        except (KeyError, TypeError):
            return None

    if keep_last is None:
        keep_last = _number(get("retention_keep_last"), "retention_keep_last", int)
    if keep_days is None:
        keep_days = _number(get("retention_keep_days"), "retention_keep_days", float)
    if grace_hours is None:
        grace_hours = _number(get("retention_grace_hours"), "retention_grace_hours", float)
    return RetentionPolicy(keep_last, keep_days,
                           DEFAULT_GRACE_HOURS if grace_hours is None else grace_hours)


def flow_policies(profile: Any, base: RetentionPolicy, keep_last: int | None = None,
                  keep_days: float | None = None) -> dict[str, RetentionPolicy]:
    """Per-flow policies from the profile's override maps; a flag given on the command line
    (``keep_last`` / ``keep_days`` not None) wins over them."""

    def get(key: str) -> dict[str, Any]:
        try:
            return dict((profile[key] if profile is not None else None) or {})
        except (KeyError, TypeError):
            return {}

    lasts, days = get("retention_flow_keep_last"), get("retention_flow_keep_days")
    out = {}
    for flow in set(lasts) | set(days):
        last = base.keep_last if keep_last is not None or flow not in lasts else _number(
            lasts[flow], f"retention_flow_keep_last[{flow}]", int)
        age = base.keep_days if keep_days is not None or flow not in days else _number(
            days[flow], f"retention_flow_keep_days[{flow}]", float)
        out[flow] = RetentionPolicy(last, age, base.grace_hours)
    return out
