"""Changing the profile's s3_prefix does not make old runs' artifacts "missing" (issue 10):
each run records where it stored its artifacts and logs, and readers go there."""

from __future__ import annotations

from tests.support.backends import FLOWS


def test_old_runs_stay_readable_after_the_prefix_changes(aws, monkeypatch):
    from flowlib.client import Run
    from flowlib.stores import reset_stores

    aws.run(FLOWS / "integrity_flow.py", "run")
    monkeypatch.setenv("FLOWLIB_S3_PREFIX", f"{aws.prefix}-moved")
    reset_stores()
    from flowlib.stores import open_stores

    assert open_stores().artifacts("IntegrityFlow").blobs.root_url.endswith("-moved")
    run = Run("IntegrityFlow/1")
    assert f"datastore:s3://{aws.stack.bucket}/{aws.prefix}" in run.system_tags
    end = run["end"].task
    assert end.data.size == 1024
    assert "stored 1024 bytes" in end.stdout
    assert end["size"].location.startswith(f"s3://{aws.stack.bucket}/{aws.prefix}/")
