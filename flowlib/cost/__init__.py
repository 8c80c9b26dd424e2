"""What a run cost: compute per attempt, storage, and a dollar total that says what it
includes and what it estimates (``Run(...).cost``, ``flowlib cost RUN``)."""

from flowlib.cost.model import AttemptCost, RunCost, run_cost
from flowlib.cost.resources import attempt_resources

__all__ = ["AttemptCost", "RunCost", "attempt_resources", "run_cost"]
