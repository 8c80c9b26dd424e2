"""Mark-and-sweep garbage collection of runs and their content-addressed blobs.

Blobs are shared between runs (deduplication), so a blob may be deleted only when no kept run
references it. The collector works per flow (each flow has its own blob namespace):

1. **Plan** (read only; ``--dry-run`` stops here). List the flow's runs newest first, split
   them with the policy (``policy.kept_runs``), read every kept run's references (artifact
   keys of every attempt, log keys, recorded code packages) and every blob a hold keeps
   (a deployed flow's code package, parameter defaults and bundles: ``BlobStore.hold``) into
   the *live set*, list the flow's blobs and pick the candidates: not live, and last written
   more than the grace period ago.
2. **Mark.** Each run to remove is marked ``removing`` with one conditional write that fails
   when the run is running (a crashed run only if silent for ``crash_margin``: its heartbeat
   is part of the condition, so a runtime heard from since is spared), was pinned meanwhile,
   or is already removed; from then on the
   client refuses it ("was removed by retention on <date>") instead of serving half a run.
3. **Sweep.** The references of every run whose mark was refused are added to the live set.
   Candidates are deleted in batches (1,000 keys per S3 DeleteObjects request); before each
   batch the references of runs running at plan time or created since are read again and
   those blobs spared.
4. **Finalize.** Each marked run's task, attempt and artifact records are deleted and the run
   is marked ``removed`` (its run record and tags stay, with the date).

Why it is safe:

* Interrupted anywhere, the store stays consistent: a marked run is invisible to the client
  before any of its blobs goes, and the next gc picks up runs left ``removing`` (they are
  removed whatever the new policy says) and deletes whatever is left. Deletes are idempotent.
* Two collectors at once: marks are conditional and idempotent, deleting an absent blob is not
  an error, finalizing twice is a no-op. Each deletes only blobs its own live set excludes,
  and every run either collector removes was marked before its blobs went.
* A run writing during gc: a blob stored less than ``grace`` ago is never deleted (choose a
  grace period longer than twice the longest run), and references a running run has recorded
  are re-read right before each delete batch.
* A task deduplicating against an old blob no kept run references: ``BlobStore.put`` refreshes
  a blob older than ``refresh_after`` (half the profile's grace period) before trusting it,
  and ``delete_blobs`` deletes only the blob as the plan listed it (locally its mtime, checked
  under a lock the refresh also takes; on S3 the listed versions, while the refresh writes a
  new one). Whichever comes first, the blob survives or is written again. A blob the task
  trusted without refreshing was written less than grace/2 before the dedup, so it cannot be
  a candidate before the task's run has recorded the reference (runs shorter than grace/2).

Credentials: gc deletes S3 objects and DynamoDB items, which the task role may not do (least
privilege): run it with an operator's credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flowlib.datastore.base import BlobInfo
from flowlib.metadata.records import REMOVED, REMOVING, RUNNING, RunRecord
from flowlib.retention.policy import PROTECT_TAGS, RetentionPolicy, crash_margin, kept_runs
from flowlib.stores import Stores

SWEEP_BATCH = 1000
Hook = Callable[[str, str], None]  # (point, flow)


@dataclass
class FlowPlan:
    flow: str
    kept: list[RunRecord]
    remove: list[RunRecord]
    live: set[str]
    candidates: list[BlobInfo]
    blobs_total: int = 0
    bytes_total: int = 0
    young_unreferenced: int = 0  # unreferenced, but within the grace period
    held: int = 0  # blobs deployments hold (BlobStore.hold), kept whatever the policy
    newest_run: int = 0  # the newest run id seen by the plan; later ones are re-read
    policy: RetentionPolicy | None = None

    @property
    def bytes_freed(self) -> int:
        return sum(b.size for b in self.candidates)


@dataclass
class GcPlan:
    policy: RetentionPolicy
    now: float
    flows: list[FlowPlan]

    def to_dict(self) -> dict:
        return {
            "policy": self.policy.describe(),
            "flows": [
                {"flow": f.flow, "kept_runs": [r.run_id for r in f.kept],
                 "removed_runs": [r.run_id for r in f.remove],
                 "policy": f.policy.describe() if f.policy is not None else None,
                 "blobs_deleted": len(f.candidates), "bytes_freed": f.bytes_freed,
                 "blobs_total": f.blobs_total, "bytes_total": f.bytes_total,
                 "unreferenced_within_grace": f.young_unreferenced,
                 "held_by_deployments": f.held}
                for f in self.flows
            ],
        }


@dataclass
class GcReport:
    runs_removed: dict[str, list[str]] = field(default_factory=dict)
    runs_skipped: dict[str, list[str]] = field(default_factory=dict)  # refused by the mark
    blobs_deleted: int = 0
    bytes_freed: int = 0
    blobs_spared: int = 0  # candidates a concurrent run referenced before the sweep


def plan_gc(stores: Stores, policy: RetentionPolicy, flows: Iterable[str] | None = None,
            now: float | None = None, per_flow: dict[str, RetentionPolicy] | None = None
            ) -> GcPlan:
    """What gc would do (changes nothing); ``per_flow`` overrides ``policy`` for some flows."""
    now = time.time() if now is None else now
    meta = stores.metadata
    names = sorted(flows) if flows is not None else meta.list_flows()
    plans = []
    for flow in names:
        listed = list(meta.list_runs(flow))
        runs = [r for r in listed if r.retention != REMOVED]
        resumed = [r for r in runs if r.retention == REMOVING]  # an interrupted gc's marks
        chosen = (per_flow or {}).get(flow, policy)
        kept, remove = kept_runs([r for r in runs if r.retention is None], chosen, now)
        blobstore = stores.make_blobstore(flow)
        held = blobstore.held_keys()
        live: set[str] = set(held)
        for run in kept:
            live |= meta.run_blob_keys(flow, run.run_id)
        cutoff = now - policy.grace_hours * 3600
        plan = FlowPlan(flow, kept, resumed + remove, live, [],
                        newest_run=max((int(r.run_id) for r in listed), default=0),
                        policy=chosen, held=len(held))
        for blob in blobstore.list_blobs():
            plan.blobs_total += 1
            plan.bytes_total += blob.size
            if blob.key in live:
                continue
            if blob.modified < cutoff:
                plan.candidates.append(blob)
            else:
                plan.young_unreferenced += 1
        plans.append(plan)
    return GcPlan(policy, now, plans)


class _Collector:
    def __init__(self, stores: Stores, plan: GcPlan, hook: Hook | None) -> None:
        self.stores = stores
        self.meta = stores.metadata
        self.plan = plan
        self.hook = hook or (lambda point, flow: None)
        self.report = GcReport()
        self.margin = crash_margin(plan.policy)

    def run(self) -> GcReport:
        for flow_plan in self.plan.flows:
            self._flow(flow_plan)
        return self.report

    def _flow(self, fp: FlowPlan) -> None:
        flow = fp.flow
        marked, refused = [], []
        for run in fp.remove:
            ok = self.meta.mark_run_removing(flow, run.run_id, self.plan.now, list(PROTECT_TAGS),
                                             crashed_before=self.plan.now - self.margin)
            (marked if ok else refused).append(run)
        self.hook("after_mark", flow)
        live = set(fp.live)
        for run in refused:  # pinned or re-tagged meanwhile: its blobs stay
            live |= self.meta.run_blob_keys(flow, run.run_id)
        # Runs whose references may still grow: running at plan time, or created since.
        self.unsettled = {r.run_id for r in fp.kept if r.status == RUNNING}
        self.newest = fp.newest_run
        self.hook("before_sweep", flow)
        blobs = self.stores.make_blobstore(flow)
        for i in range(0, len(fp.candidates), SWEEP_BATCH):
            self._refresh(flow, live)
            live |= blobs.held_keys()  # a deployment created since the plan
            batch = [b for b in fp.candidates[i : i + SWEEP_BATCH] if b.key not in live]
            self.report.blobs_spared += min(SWEEP_BATCH, len(fp.candidates) - i) - len(batch)
            self.hook("before_delete_batch", flow)
            blobs.delete_blobs(batch)  # spares any blob refreshed since the plan listed it
            self.report.blobs_deleted += len(batch)
            self.report.bytes_freed += sum(b.size for b in batch)
            self.hook("after_sweep_batch", flow)
        for run in marked:
            self.meta.finish_run_removal(flow, run.run_id)
            self.hook("after_finalize_run", flow)
        self.report.runs_removed[flow] = [r.run_id for r in marked]
        self.report.runs_skipped[flow] = [r.run_id for r in refused]

    def _refresh(self, flow: str, live: set[str]) -> None:
        """Add to ``live`` the references of runs not settled at plan time (running then, or
        created since: listed newest first down to the newest id the plan saw). A run found
        finished is settled: its tasks recorded every reference before the run's status
        changed, so it is read once more and then no longer."""
        newest = self.newest
        for run in self.meta.list_runs(flow):
            if int(run.run_id) <= self.newest:
                break
            newest = max(newest, int(run.run_id))
            self.unsettled.add(run.run_id)
        self.newest = newest
        for run_id in sorted(self.unsettled):
            run = self.meta.get_run(flow, run_id)
            if run is None or run.retention is not None:
                self.unsettled.discard(run_id)
                continue
            if run.status != RUNNING:
                self.unsettled.discard(run_id)
            live |= self.meta.run_blob_keys(flow, run_id)


def collect(stores: Stores, plan: GcPlan, hook: Hook | None = None) -> GcReport:
    """Carry out a plan (mark, sweep, finalize); ``hook(point, flow)`` is called between the
    phases (tests interleave writers or interrupt the collector there)."""
    return _Collector(stores, plan, hook).run()
