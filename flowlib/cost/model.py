"""Cost of a run from what its attempts recorded.

Compute, per attempt: vCPU-seconds and GiB-seconds (requested cpu and memory times the
attempt's recorded duration). Dollars, per attempt:

* instance type known and in the price table: the instance's on-demand price times the share
  of it the attempt requested (the larger of its cpu and memory shares, at most the whole
  machine) times the hours;
* on Batch or Kubernetes with the type unknown: Fargate's vCPU-hour and GiB-hour rates, an
  estimate;
* local: not priced (your own machine);
* resources not recorded (runs from before cost existed): not priced.

Storage: bytes of artifacts the run wrote (tasks cloned by ``resume`` excluded), and bytes
only this run holds (artifacts no other run of the flow references: what removing it would
free); the monthly S3 price of the latter. Requests: the PUTs the run's new blobs needed at
most (deduplication may have skipped some), priced per 1,000.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

from flowlib.cost.prices import describe as describe_prices
from flowlib.cost.prices import price_table
from flowlib.metadata.records import REMOVED
from flowlib.stores import Stores

PARAMETERS_STEP = "_parameters"


@dataclass
class AttemptCost:
    step: str
    task_id: str
    attempt: int
    status: str
    seconds: float
    cpu: float | None
    memory_gib: float | None
    gpu: int | None
    compute: str | None
    instance_type: str | None
    vcpu_seconds: float | None
    gib_seconds: float | None
    dollars: float | None
    basis: str
    finished: bool = True


@dataclass
class RunCost:
    """Cost of one run; ``str(cost)`` is a readable summary, ``to_dict()`` the figures."""

    flow: str
    run_id: str
    attempts: list[AttemptCost]
    artifact_bytes_written: int
    blobs_written: int
    datastore: str
    _stores: Stores = field(repr=False)
    _own_keys: dict[str, int] = field(repr=False, default_factory=dict)

    @property
    def vcpu_seconds(self) -> float:
        return sum(a.vcpu_seconds or 0 for a in self.attempts)

    @property
    def gib_seconds(self) -> float:
        return sum(a.gib_seconds or 0 for a in self.attempts)

    @property
    def compute_dollars(self) -> float:
        return sum(a.dollars or 0 for a in self.attempts)

    @property
    def request_dollars(self) -> float:
        if self.datastore != "s3":
            return 0.0
        return self.blobs_written / 1000 * price_table()["s3_put_per_1000"]

    @cached_property
    def held_alone_bytes(self) -> int:
        """Bytes of artifacts no other (not removed) run of the flow references."""
        meta = self._stores.metadata
        others: set[str] = set()
        for run in meta.list_runs(self.flow):
            if run.run_id != self.run_id and run.retention != REMOVED:
                others |= meta.run_blob_keys(self.flow, run.run_id)
        return sum(size for key, size in self._own_keys.items() if key not in others)

    @property
    def storage_dollars_per_month(self) -> float:
        if self.datastore != "s3":
            return 0.0
        return self.held_alone_bytes / 2**30 * price_table()["s3_gib_month"]

    @property
    def dollars(self) -> float:
        """Compute plus requests (one-time); storage is per month, see ``explain``."""
        return self.compute_dollars + self.request_dollars

    def by_step(self) -> dict[str, dict[str, float]]:
        steps: dict[str, dict[str, float]] = {}
        for a in self.attempts:
            s = steps.setdefault(a.step, {"attempts": 0, "seconds": 0.0, "vcpu_seconds": 0.0,
                                          "gib_seconds": 0.0, "dollars": 0.0})
            s["attempts"] += 1
            s["seconds"] += a.seconds
            s["vcpu_seconds"] += a.vcpu_seconds or 0
            s["gib_seconds"] += a.gib_seconds or 0
            s["dollars"] += a.dollars or 0
        return steps

    def explain(self) -> dict[str, list[str]]:
        includes = ["compute of every attempt (failed and retried ones too)"]
        estimates = []
        bases = {a.basis for a in self.attempts}
        if any(b.startswith("Fargate") for b in bases):
            estimates.append("attempts whose instance type is unknown, at Fargate's vCPU and "
                             "GiB rates")
        if any(b.startswith("share of") for b in bases):
            includes.append("on-demand instance prices (spot would be lower), the requested "
                            "share of the machine")
        excluded = sorted({b for b in bases if b.startswith(("local", "resources not"))})
        if self.datastore == "s3":
            includes.append("S3 PUT requests for the run's new blobs")
            estimates.append("PUT count is an upper bound (deduplicated blobs are not uploaded)")
        not_included = [*excluded, "data transfer, NAT, EBS, idle instances, DynamoDB",
                        "storage, which is per month: see storage_dollars_per_month"]
        if any(not a.finished for a in self.attempts):
            estimates.append("attempts still running, counted until now")
        return {"includes": includes, "estimates": estimates, "excludes": not_included}

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": f"{self.flow}/{self.run_id}",
            "attempts": [asdict(a) for a in self.attempts],
            "steps": self.by_step(),
            "vcpu_seconds": self.vcpu_seconds, "gib_seconds": self.gib_seconds,
            "compute_dollars": self.compute_dollars, "request_dollars": self.request_dollars,
            "dollars": self.dollars,
            "artifact_bytes_written": self.artifact_bytes_written,
            "bytes_held_alone": self.held_alone_bytes,
            "storage_dollars_per_month": self.storage_dollars_per_month,
            "prices": describe_prices(),
            **self.explain(),
        }

    def __str__(self) -> str:
        lines = [f"Cost of {self.flow}/{self.run_id}: ${self.dollars:.4f} "
                 f"({self.vcpu_seconds:.1f} vCPU-s, {self.gib_seconds:.1f} GiB-s)"]
        for step, s in self.by_step().items():
            lines.append(f"  {step:<20} {int(s['attempts'])} attempts  {s['seconds']:9.1f} s  "
                         f"{s['vcpu_seconds']:9.1f} vCPU-s  {s['gib_seconds']:9.1f} GiB-s  "
                         f"${s['dollars']:.4f}")
        lines.append(f"  storage: {self.artifact_bytes_written} bytes of artifacts written, "
                     f"{self.held_alone_bytes} held by this run alone "
                     f"(${self.storage_dollars_per_month:.4f}/month)")
        lines.append(f"  prices: {describe_prices()}")
        for title, items in self.explain().items():
            lines.append(f"  {title}: " + "; ".join(items) if items else f"  {title}: -")
        return "\n".join(lines)


def _price(resources: dict[str, Any] | None, seconds: float) -> tuple[float | None, str]:
    if not resources:
        return None, "resources not recorded (run from before cost tracking)"
    compute = resources.get("compute")
    if compute == "local":
        return 0.0, "local: not priced"
    table = price_table()
    hours = seconds / 3600
    cpu, mem = float(resources["cpu"]), resources["memory"] / 1024
    instance = resources.get("instance_type")
    if instance and instance in table["instances"]:
        vcpus, inst_mem, hourly = table["instances"][instance]
        share = min(1.0, max(cpu / vcpus, mem / inst_mem))
        return hourly * share * hours, f"share of {instance} on demand"
    return (cpu * table["vcpu_hour"] + mem * table["gib_hour"]) * hours, (
        "Fargate rates (instance type unknown)")


def run_cost(stores: Stores, flow: str, run_id: str, now: float | None = None) -> RunCost:
    meta = stores.metadata
    now = time.time() if now is None else now
    resources = meta.run_attempt_resources(flow, run_id)
    attempts: list[AttemptCost] = []
    own: dict[str, int] = {}
    new_keys: set[str] = set()
    for task in meta.list_tasks(flow, run_id):
        cloned = task.origin is not None
        for a in meta.list_attempts(flow, run_id, task.step, task.task_id):
            refs = meta.get_artifacts(flow, run_id, task.step, task.task_id, a.attempt)
            for ref in refs.values():
                own[ref.key] = ref.size
                if not cloned:
                    new_keys.add(ref.key)
            if not cloned:
                new_keys.update(a.logs.values())
            if cloned or task.step == PARAMETERS_STEP:
                continue  # the origin run paid for it / stored by the runtime, not a task
            seconds = max(0.0, (a.finished or now) - a.started)
            res = resources.get((task.step, task.task_id, a.attempt))
            dollars, basis = _price(res, seconds)
            cpu = float(res["cpu"]) if res else None
            mem = res["memory"] / 1024 if res else None
            attempts.append(AttemptCost(
                task.step, task.task_id, a.attempt, a.status, seconds, cpu, mem,
                res.get("gpu") if res else None, res.get("compute") if res else None,
                res.get("instance_type") if res else None,
                cpu * seconds if cpu is not None else None,
                mem * seconds if mem is not None else None, dollars, basis,
                a.finished is not None,
            ))
    written = sum(size for key, size in own.items() if key in new_keys)
    profile = stores.profile
    datastore = profile["datastore"] if profile is not None else "local"
    return RunCost(flow, run_id, attempts, written, len(new_keys), datastore, stores, own)
