"""Programmatic API over the command line (Metaflow's ``metaflow.Runner`` and ``Deployer``).

* ``runner``: ``Runner("flow.py").run(alpha=2)`` runs a flow in a subprocess, exactly as
  ``python flow.py run --alpha 2`` does, and hands back the client ``Run``.
* ``deployer``: ``Deployer("flow.py").step_functions().create()`` deploys it through the same
  code as ``python flow.py step-functions create``.

This layer sits above the client and the remote backends: it only composes them.
"""

from flowlib.api.deployer import DeployedFlow, Deployer, TriggeredRun
from flowlib.api.runner import ExecutingRun, Runner

__all__ = ["Runner", "ExecutingRun", "Deployer", "DeployedFlow", "TriggeredRun"]
