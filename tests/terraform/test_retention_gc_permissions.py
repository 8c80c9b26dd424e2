"""The scheduled gc's role grants what `flowlib gc --yes` calls, and nothing it does not call.

gc runs here on moto with a profile like the one the gc job gets (a removed run, a kept run,
a pinned run; blobs, logs) and every AWS call it makes is recorded; each maps to one IAM
action. The actions must be exactly ``GC_ACTIONS``, the list the apply cycle
(test_terraform_moto_apply.py) finds in the role Terraform created. moto does not evaluate
IAM policies here, so this is the check that the role is enough, and no more.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.terraform.retention_checks import GC_ACTIONS

# API operation -> the IAM action that authorizes it, where the names differ.
_S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "DeleteObjects": "s3:DeleteObject",
    "DeleteObject": "s3:DeleteObject",
}


def _action(service: str, operation: str, params: dict[str, Any]) -> str:
    if service == "s3":
        if operation == "ListObjectVersions":
            return "s3:ListBucketVersions"
        if operation in ("DeleteObjects", "DeleteObject") and any(
                "VersionId" in o for o in params.get("Delete", {}).get("Objects", [params])):
            return "s3:DeleteObjectVersion"
        return _S3_ACTIONS.get(operation, f"s3:{operation}")
    return f"{service}:{operation}"


def test_gc_calls_exactly_what_the_gc_role_allows(
    moto_stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.client

    from flowlib.cli.flowlib_command import main
    from flowlib.config import effective_profile
    from flowlib.metadata.records import RUNNING
    from flowlib.stores import reset_stores, stores_for
    from tests.retention.runs import record_run
    from tests.support.moto_server import write_config

    table = moto_stack.create_table()
    profile = moto_stack.profile(table, f"tests/{uuid.uuid4().hex[:12]}",
                                 retention_keep_last="1", retention_grace_hours="0")
    config = write_config(tmp_path / "config.json", {"gcperm": profile})
    for key, value in {**moto_stack.env, "FLOWLIB_CONFIG": str(config)}.items():
        monkeypatch.setenv(key, value)
    for key in ("FLOWLIB_PROFILE", "FLOWLIB_DATASTORE_ROOT"):
        monkeypatch.delenv(key, raising=False)
    reset_stores()
    try:
        stores = stores_for(effective_profile("gcperm"))
        flow = "PermFlow"
        pinned = record_run(stores, flow, {"v": 0}, tags=["keep"], stdout="pinned")
        removed = record_run(stores, flow, {"v": 1}, stdout="old")
        record_run(stores, flow, {"v": 2}, stdout="kept")
        record_run(stores, flow, {"v": 3}, status=RUNNING, finish_run=False)  # re-read

        # A deployed flow's hold: gc reads it (and keeps what it names).
        held = stores.make_blobstore(flow).put([b"a deployed code package"])
        stores.make_blobstore(flow).hold("stepfunctions/ci-PermFlow", [held])
        calls: set[str] = set()
        original = botocore.client.BaseClient._make_api_call

        def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
            calls.add(_action(client.meta.service_model.endpoint_prefix, operation, params))
            return original(client, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
        result = CliRunner().invoke(main, ["gc", "--profile", "gcperm", "--yes"])
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
        assert result.exit_code == 0, result.output
        assert "removed 1 runs" in result.stdout, result.stdout  # kept: last, pinned, running
        assert stores.metadata.get_run(flow, removed).retention == "removed"
        assert stores.metadata.get_run(flow, pinned).retention is None
    finally:
        reset_stores()
        moto_stack.delete_table(table)

    used = calls
    assert used <= GC_ACTIONS, f"gc calls what its role may not: {sorted(used - GC_ACTIONS)}"
    assert used == GC_ACTIONS, f"the gc role allows what gc never calls: {GC_ACTIONS - used}"
