"""Find a flow's deployment in an environment from its records alone (no flow file): what the
HTTP endpoint (``flowlib.http_api``) starts.

Records live at ``<prefix>/stepfunctions/<name>.json`` (``deploy.Record``); the folder also
holds ``items/`` of Distributed Maps, which a delimited listing skips. A flow may be deployed
several times: once per ``@project`` branch, and under ``--name`` overrides. Without a branch
the production deployment is meant (no ``@project``, or the ``prod`` branch).
"""

from __future__ import annotations

import json
from typing import Any

from flowlib.exceptions import FlowlibError
from flowlib.remote.stepfunctions.deploy import Deployer, Record
from flowlib.remote.stepfunctions.naming import Deployment
from flowlib.stores import Stores


class NotDeployed(FlowlibError):
    """No deployment of the flow (or of the branch asked for) in this environment."""


class Ambiguous(FlowlibError):
    """Several deployments match; the message names them."""


def records_prefix(profile: Any) -> str:
    prefix = (profile["s3_prefix"] or "").strip("/")
    return f"{prefix}/stepfunctions/" if prefix else "stepfunctions/"


def deployment_records(stores: Stores, flow: str | None = None) -> list[Record]:
    """Every deployment record of the environment (of ``flow`` only, if given)."""
    from flowlib.config.aws import AwsContext

    profile = stores.profile
    s3 = AwsContext(profile).client("s3")
    prefix = records_prefix(profile)
    found = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=profile["s3_bucket"], Prefix=prefix, Delimiter="/")
    for page in pages:
        for item in page.get("Contents", []):
            if not item["Key"].endswith(".json"):
                continue
            data = json.loads(s3.get_object(Bucket=profile["s3_bucket"],
                                            Key=item["Key"])["Body"].read())
            data.pop("version", None)
            known = {k: v for k, v in data.items() if k in Record.__dataclass_fields__}
            record = Record(**known)
            if flow is None or record.flow == flow:
                found.append(record)
    return sorted(found, key=lambda r: r.name)


def find_deployment(stores: Stores, flow: str, branch: str | None = None
                    ) -> tuple[Deployer, Record]:
    """The deployment of ``flow`` to start: the ``branch`` given (a recorded project branch
    such as ``prod``, ``test.nightly``, ``user.alice``; ``nightly`` means ``test.nightly``),
    else the production one. Raises NotDeployed or Ambiguous with a message saying what is
    deployed."""
    records = deployment_records(stores, flow)
    where = stores.description
    if not records:
        raise NotDeployed(f"Flow '{flow}' is not deployed on {where}: deploy it with "
                          f"'python flow.py step-functions create'.")
    if branch:
        wanted = [r for r in records if r.branch == branch] or \
            [r for r in records if r.branch == f"test.{branch}"]
    else:
        wanted = [r for r in records if r.project is None or r.branch == "prod"]
    if not wanted:
        deployed = ", ".join(sorted({r.branch or "(no @project)" for r in records}))
        asked = f"branch '{branch}'" if branch else "its production deployment"
        raise NotDeployed(f"Flow '{flow}' has no deployment for {asked} on {where} "
                          f"(deployed branches: {deployed}); pass one of them as \"branch\".")
    if len(wanted) > 1:
        environment = stores.profile["environment"]
        default = [r for r in wanted if r.name == Deployment(
            r.flow, r.project, r.branch, environment).name]
        if len(default) != 1:
            names = ", ".join(r.name for r in wanted)
            raise Ambiguous(f"Flow '{flow}' has several deployments that match ({names}); "
                            "delete the ones not in use.")
        wanted = default
    record = wanted[0]
    deployment = Deployment(record.flow, record.project, record.branch,
                            stores.profile["environment"], name_override=record.name)
    return Deployer(stores, deployment), record
