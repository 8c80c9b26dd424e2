"""``@schedule`` and ``@project``: flow-level decorators read by ``step-functions create``.

They only record values on the class; nothing here imports AWS. Metaflow's names and options.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowlib.exceptions import FlowlibError

_PROJECT_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_ZONE = re.compile(r"^[A-Za-z_]+(/[A-Za-z0-9_+\-]+){0,2}$|^UTC$")


@dataclass(frozen=True)
class Schedule:
    """When EventBridge Scheduler starts the state machine (an AWS ``cron(...)`` expression)."""

    cron: str
    timezone: str | None

    @property
    def expression(self) -> str:
        return f"cron({self.cron})"


def aws_cron(cron: str) -> str:
    """A 5-field Unix cron or a 6-field AWS cron as the 6 fields EventBridge expects.

    Unix day-of-week numbers (0 or 7 = Sunday) become AWS's (1 = Sunday), and one of
    day-of-month / day-of-week becomes ``?`` as AWS requires.
    """
    fields = cron.split()
    if len(fields) == 6:
        return " ".join(fields)
    if len(fields) != 5:
        raise FlowlibError(
            f"@schedule(cron={cron!r}): expected 5 fields (minute hour day month weekday) "
            "or AWS's 6 (with year), e.g. cron='0 2 * * *'.")
    minute, hour, dom, month, dow = fields

    def shift(token: str) -> str:
        return re.sub(r"\d+", lambda m: str(int(m.group()) % 7 + 1), token)

    if dow in ("*", "?"):
        dow = "?"
        dom = "*" if dom == "?" else dom
    else:
        dow = shift(dow)
        if dom not in ("*", "?"):
            raise FlowlibError(
                f"@schedule(cron={cron!r}): AWS cannot combine a day of month with a day of "
                "week; use '*' for one of them.")
        dom = "?"
    return f"{minute} {hour} {dom} {month} {dow} *"


def schedule(cls: type | None = None, *, cron: str | None = None, timezone: str | None = None,
             hourly: bool = False, daily: bool = False, weekly: bool = False) -> Any:
    """Run the deployed flow on a schedule: ``@schedule(cron="0 2 * * *",
    timezone="Europe/Berlin")``, ``@schedule(hourly=True)``, ``daily=True``, ``weekly=True``
    (midnight, Sunday for weekly). Without ``timezone`` the schedule is in UTC."""
    chosen = [name for name, on in (("cron", cron), ("hourly", hourly), ("daily", daily),
                                    ("weekly", weekly)) if on]
    if len(chosen) != 1:
        raise FlowlibError("@schedule needs exactly one of cron='...', hourly=True, daily=True "
                           f"or weekly=True (got {', '.join(chosen) or 'none'}).")
    if timezone is not None and not _ZONE.match(timezone):
        raise FlowlibError(f"@schedule(timezone={timezone!r}): use an IANA zone name such as "
                           "'Europe/Berlin' or 'UTC'.")
    expression = aws_cron(cron) if cron else {
        "hourly": "0 * * * ? *", "daily": "0 0 * * ? *", "weekly": "0 0 ? * SUN *"}[chosen[0]]
    value = Schedule(expression, timezone)

    def apply(flow_cls: type) -> type:
        flow_cls._flowlib_schedule = value  # type: ignore[attr-defined]
        return flow_cls

    return apply(cls) if cls is not None else apply


def project(cls: type | None = None, *, name: str | None = None) -> Callable[[type], type]:
    """Group deployments of a flow by project and branch: ``@project(name="churn")``.

    ``step-functions create --branch NAME`` deploys branch ``test.NAME``, ``--production``
    branch ``prod``, neither ``user.<you>``: each branch is its own state machine."""
    if cls is not None or not name or not _PROJECT_NAME.match(name):
        raise FlowlibError(f"@project(name={name!r}): name= is required, 1-32 characters of "
                           "lower-case letters, digits and '_'.")

    def apply(flow_cls: type) -> type:
        flow_cls._flowlib_project = name  # type: ignore[attr-defined]
        return flow_cls

    return apply


def flow_schedule(flow_cls: type) -> Schedule | None:
    return getattr(flow_cls, "_flowlib_schedule", None)


def flow_project(flow_cls: type) -> str | None:
    return getattr(flow_cls, "_flowlib_project", None)


@dataclass(frozen=True)
class ProjectBranch:
    """The ``@project`` a run belongs to and its branch (Metaflow's ``current.branch_name``)."""

    project: str
    branch: str  # prod, test.<name> or user.<user>

    @property
    def is_production(self) -> bool:
        return self.branch == "prod"

    @property
    def is_user_branch(self) -> bool:
        return self.branch.startswith("user.")

    def flow_name(self, flow: str) -> str:
        """Metaflow's ``current.project_flow_name``: ``<project>.<branch>.<Flow>``."""
        return f"{self.project}.{self.branch}.{flow}"

    @property
    def tags(self) -> list[str]:
        return [f"project:{self.project}", f"project_branch:{self.branch}"]


_BRANCH = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def branch_name(branch: str | None, production: bool, user: str,
                given_as: tuple[str, str] = ("FLOWLIB_BRANCH", "FLOWLIB_PRODUCTION")) -> str:
    """Metaflow's project branch names: ``prod`` for production, ``test.<branch>`` for a named
    branch, else ``user.<user>``. ``given_as`` names the two settings in error messages (the
    environment variables, or step-functions' ``--branch`` and ``--production``)."""
    if branch and production:
        raise FlowlibError(f"Use either {given_as[0]} or {given_as[1]}, not both.")
    if production:
        return "prod"
    if branch:
        if not _BRANCH.match(branch):
            raise FlowlibError(f"{given_as[0]} {branch!r}: use 1-40 letters, digits, '.', '_', "
                               "'-'.")
        return f"test.{branch}"
    return f"user.{_UNSAFE.sub('_', user)[:32]}"


def run_project_branch(flow_cls: type, user: str) -> ProjectBranch | None:
    """The project branch of a run of ``flow_cls`` started here (``branch_name`` from
    FLOWLIB_BRANCH / METAFLOW_BRANCH and FLOWLIB_PRODUCTION / METAFLOW_PRODUCTION). None for a
    flow without ``@project``."""
    import os

    project = flow_project(flow_cls)
    if project is None:
        return None
    branch = os.environ.get("FLOWLIB_BRANCH") or os.environ.get("METAFLOW_BRANCH")
    production = (os.environ.get("FLOWLIB_PRODUCTION") or os.environ.get("METAFLOW_PRODUCTION")
                  or "").lower() in ("1", "true", "yes")
    return ProjectBranch(project, branch_name(branch, production, user))
