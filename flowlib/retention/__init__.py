"""Artifact retention: which runs to keep (``policy``) and a safe mark-and-sweep collector of
everything else (``gc``). See the README section "Artifact retention and cost"."""

from flowlib.retention.gc import GcPlan, GcReport, collect, plan_gc
from flowlib.retention.policy import RetentionPolicy, policy_for

__all__ = ["GcPlan", "GcReport", "RetentionPolicy", "collect", "plan_gc", "policy_for"]
