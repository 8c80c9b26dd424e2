"""Names and tags of what a deployment creates, from the flow, the project branch and the
environment, so deployments of one flow from several branches never collide."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from flowlib.exceptions import FlowlibError
from flowlib.flow_decorators import branch_name

_BAD = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME = 80  # state machine and schedule names


@dataclass(frozen=True)
class Deployment:
    """Who a deployment is: flow, optional project and branch, environment."""

    flow: str
    project: str | None
    branch: str | None  # "prod", "test.<name>" or "user.<name>" when project is set
    environment: str | None
    name_override: str | None = None

    @property
    def production(self) -> bool:
        return self.project is None or self.branch == "prod"

    @property
    def name(self) -> str:
        """The state machine's name (also the schedule's and the job definitions' stem)."""
        if self.name_override:
            raw = self.name_override
        elif self.project:
            raw = f"{self.project}-{self.branch}-{self.flow}"
        else:
            raw = self.flow
        if self.environment and not self.name_override:
            raw = f"{self.environment}-{raw}"
        name = _BAD.sub("_", raw)
        if len(name) > MAX_NAME:
            digest = hashlib.sha256(name.encode()).hexdigest()[:8]
            name = f"{name[:MAX_NAME - 9]}-{digest}"
        return name

    def resource_tags(self) -> dict[str, str]:
        tags = {"flowlib:managed": "true", "flowlib:flow": self.flow,
                "flowlib:deployment": self.name}
        if self.project:
            tags["flowlib:project"] = self.project
            tags["flowlib:project_branch"] = str(self.branch)
        if self.environment:
            tags["flowlib:environment"] = self.environment
        return tags

    def run_tags(self) -> list[str]:
        """System tags of every run this deployment starts."""
        tags = ["runtime:step-functions", f"step_functions:{self.name}"]
        if self.production:
            tags.append("production")
        if self.project:
            tags += [f"project:{self.project}", f"project_branch:{self.branch}"]
        return tags


def project_branch(project: str | None, branch: str | None, production: bool, user: str
                   ) -> str | None:
    """Metaflow's branch names: ``prod``, ``test.<branch>``, ``user.<user>``."""
    if project is None:
        if branch or production:
            raise FlowlibError("--branch and --production need @project(name=...) on the flow "
                               "class.")
        return None
    return branch_name(branch, production, user, ("--branch", "--production"))
