"""The gc, pin and unpin commands, and the requests gc sends to S3 and DynamoDB."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from flowlib import Run, namespace
from flowlib.cli.flowlib_command import main
from flowlib.datastore.base import BlobInfo
from flowlib.exceptions import NotFoundError
from flowlib.retention import RetentionPolicy, collect, plan_gc
from flowlib.stores import open_stores
from tests.retention.runs import record_run

FLOW = "CliRetainFlow"


def flowlib(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_gc_pin_unpin_commands(local):
    namespace(None)
    stores = open_stores()
    ids = [record_run(stores, FLOW, {"v": n}) for n in range(4)]

    code, _, err = flowlib("gc", "--keep-last", "0", "--yes")
    assert code == 1 and "--delete-all" in err and "Traceback" not in err
    code, _, err = flowlib("gc", "--keep-last", "1")
    assert code == 1 and "--dry-run" in err
    code, _, err = flowlib("gc", "--flow", "NoSuchFlow", "--keep-last", "1", "--dry-run")
    assert code == 1 and "NoSuchFlow" in err

    code, out, _ = flowlib("pin", f"{FLOW}/{ids[0]}")
    assert code == 0 and "pinned" in out
    code, out, _ = flowlib("gc", "--keep-last", "1", "--grace-hours", "0", "--dry-run",
                           "-o", "json")
    assert code == 0
    flow = json.loads(out)["flows"][0]
    assert flow["removed_runs"] == [ids[2], ids[1]]
    assert Run(f"{FLOW}/{ids[1]}").data is not None  # the dry run removed nothing

    code, out, _ = flowlib("unpin", f"{FLOW}/{ids[0]}")
    assert code == 0
    code, out, _ = flowlib("gc", "--keep-last", "1", "--grace-hours", "0", "--yes")
    assert code == 0 and "removed 3 runs" in out, out
    with pytest.raises(NotFoundError, match="removed by retention"):
        Run(f"{FLOW}/{ids[0]}")
    assert Run(f"{FLOW}/{ids[3]}")["end"].task.data.v == 3
    code, _, err = flowlib("pin", f"{FLOW}/{ids[0]}")
    assert code == 1 and "removed by retention" in err


@pytest.fixture
def aws_only(backend):
    if backend.name != "aws":
        pytest.skip("counts S3 and DynamoDB requests")
    return backend


def test_gc_requests_batch_deletes_and_never_scan(aws_only):
    namespace(None)
    stores = open_stores()
    for n in range(3):
        record_run(stores, FLOW, {"v": n})
    calls: list[tuple[str, int]] = []

    def count(model, params, **_):
        keys = len(params.get("Delete", {}).get("Objects", []))
        calls.append((model.name, keys))

    blobs = stores.make_blobstore(FLOW)
    blobs.s3.meta.events.register("before-parameter-build.s3", count)
    stores.metadata.ddb.meta.events.register("before-parameter-build.dynamodb", count)

    # 2,500 keys (absent ones are fine): three DeleteObjects requests of at most 1,000.
    blobs.delete_blobs([BlobInfo(f"{n:040x}", 1, 0.0) for n in range(2500)])
    assert [k for op, k in calls if op == "DeleteObjects"] == [1000, 1000, 500]

    calls.clear()
    collect(stores, plan_gc(stores, RetentionPolicy(keep_last=1, grace_hours=0)))
    ops = {op for op, _ in calls}
    assert "Scan" not in ops and "Query" in ops and "DeleteObjects" in ops, ops


def test_platform_gc_runs_on_the_environments_profile(tmp_path, monkeypatch):
    from flowlib.config import effective_profile
    from flowlib.stores import stores_for
    from platform_cli.main import cli
    from tests.support.moto_server import write_config

    config = write_config(tmp_path / "config.json", {"dev": {
        "datastore": "local", "datastore_root": str(tmp_path / "dev-store"),
        "retention_keep_last": "1"}})
    monkeypatch.setenv("FLOWLIB_CONFIG", str(config))
    for var in ("FLOWLIB_PROFILE", "FLOWLIB_DATASTORE_ROOT"):
        monkeypatch.delenv(var, raising=False)
    stores = stores_for(effective_profile("dev"))
    ids = [record_run(stores, FLOW, {"v": n}) for n in range(3)]

    runner = CliRunner()
    result = runner.invoke(cli, ["gc", "nope", "--dry-run"])
    assert result.exit_code == 1 and "No flowlib profile 'nope'" in result.stderr
    result = runner.invoke(cli, ["gc", "dev", "--grace-hours", "0"], input="wrong\n")
    assert result.exit_code == 1 and "nothing was deleted" in result.stderr
    assert stores.metadata.get_run(FLOW, ids[0]).retention is None
    result = runner.invoke(cli, ["gc", "dev", "--grace-hours", "0"], input="dev\n")
    assert result.exit_code == 0 and "removed 2 runs" in result.stdout, result.output
    assert stores.metadata.get_run(FLOW, ids[0]).retention == "removed"
    assert stores.metadata.get_run(FLOW, ids[2]).retention is None


def test_per_flow_overrides_in_the_profile(tmp_path, monkeypatch):
    from flowlib.config import effective_profile
    from flowlib.stores import stores_for
    from tests.support.moto_server import write_config

    config = write_config(tmp_path / "config.json", {"dev": {
        "datastore": "local", "datastore_root": str(tmp_path / "dev-store"),
        "retention_keep_last": "2", "retention_flow_keep_last": {"ShortFlow": "1"}}})
    monkeypatch.setenv("FLOWLIB_CONFIG", str(config))
    for var in ("FLOWLIB_PROFILE", "FLOWLIB_DATASTORE_ROOT"):
        monkeypatch.delenv(var, raising=False)
    stores = stores_for(effective_profile("dev"))
    for flow in ("ShortFlow", "LongFlow"):
        for n in range(4):
            record_run(stores, flow, {"v": n})

    code, out, err = flowlib("gc", "--profile", "dev", "--dry-run", "-o", "json")
    assert code == 0, err
    removed = {f["flow"]: f["removed_runs"] for f in json.loads(out)["flows"]}
    assert removed == {"ShortFlow": ["3", "2", "1"], "LongFlow": ["2", "1"]}
    # A flag wins over the per-flow value.
    code, out, _ = flowlib("gc", "--profile", "dev", "--keep-last", "3", "--dry-run", "-o",
                           "json")
    removed = {f["flow"]: f["removed_runs"] for f in json.loads(out)["flows"]}
    assert removed == {"ShortFlow": ["1"], "LongFlow": ["1"]}
