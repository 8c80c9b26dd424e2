"""End to end: ``platform`` provisions, checks, reports drift on and tears down one real
environment (the root stack, through the real Terraform binary) on a moto server.

One environment is shared by the ordered tests of this module (each apply or destroy against
moto takes a minute or more): a failing apply, the resumed init, doctor, a flow run on the new
bucket and table, status, drift, re-init, and destroy. A test that depends on an earlier one
skips when that one failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_cli.lifecycle import TEARDOWN_VARS
from tests.platform.conftest import (
    MOTO_SETS,
    REPO,
    STATE_BUCKET,
    Platform,
    assert_clean_error,
    base_env,
    brought_state_bucket,
)

ENV = "dev"
STATE_KEY = f"flowlib/{ENV}/terraform.tfstate"
KEY = "module.kms[0].aws_kms_key.this"
FLOW = REPO / "tests" / "aws" / "flows" / "small_flow.py"
ANY_IMAGE_FLOW = REPO / "tests" / "flows" / "remote" / "any_image_flow.py"
_passed: set[str] = set()


@pytest.fixture(scope="module")
def platform(moto_server: Any, tf_mirror: Path, moto_stack_dir: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("platform-e2e")
    env = base_env(tmp, moto_server.url, tf_mirror)
    env["PLATFORM_TERRAFORM_DIR"] = str(moto_stack_dir)
    p = Platform(env, tmp / "platform-home", Path(env["FLOWLIB_CONFIG"]), moto_server)
    brought_state_bucket(p)
    yield p
    print(f"\nplatform e2e timings (s): {json.dumps(p.timings)}")
    (tmp / "timings.json").write_text(json.dumps(p.timings, indent=2))


def needs(*names: str) -> None:
    missing = [n for n in names if n not in _passed]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} to have passed")


def state(platform: Platform) -> dict[str, Any]:
    body = platform.client("s3").get_object(Bucket=STATE_BUCKET, Key=STATE_KEY)["Body"].read()
    return json.loads(body)


def managed(doc: dict[str, Any]) -> dict[str, Any]:
    return {f"{r.get('module', '')}.{r['type']}.{r['name']}".lstrip("."): r
            for r in doc.get("resources", []) if r.get("mode") == "managed"}


def test_apply_failing_midway_keeps_state(platform: Platform) -> None:
    # A two-letter bucket name passes the provider's checks but S3 refuses it (moto as AWS):
    # the apply stops part-way.
    result = platform.run("init", ENV, "--yes", *MOTO_SETS, "--set", "s3_bucket_name=ab")
    platform.timings["init_failing"] = round(result.seconds, 1)
    assert_clean_error(result, "module.artifacts.aws_s3_bucket.this",
                       "kept in the state", f"platform init {ENV}")
    doc = state(platform)
    kept = managed(doc)
    assert KEY in kept and "module.metadata.aws_dynamodb_table.this" in kept
    assert "module.artifacts.aws_s3_bucket.this" not in kept
    record = json.loads((platform.home / "envs" / ENV / "environment.json").read_text())
    assert record["last_status"] == "failed"
    assert ENV not in platform.profiles().get("profiles", {})
    platform.kms_key = kept[KEY]["instances"][0]["attributes"]["arn"]  # type: ignore[attr-defined]
    _passed.add("failing")


def test_init_resumes_and_writes_profile(platform: Platform) -> None:
    needs("failing")
    result = platform.run("init", ENV, "--yes", "--unset", "s3_bucket_name")
    platform.timings["init"] = round(result.seconds, 1)
    assert result.code == 0, result.text
    assert "Traceback" not in result.text
    # Progress: resources done out of total, elapsed time.
    assert "[  1/" in result.stderr and "created module." in result.stderr
    # What was created before the failure is reused, not recreated.
    kept = managed(state(platform))
    assert kept[KEY]["instances"][0]["attributes"]["arn"] == platform.kms_key  # type: ignore[attr-defined]
    config = platform.profiles()
    profile = config["profiles"][ENV]
    assert config["default_profile"] == ENV
    assert profile["datastore"] == "s3" and profile["metadata"] == "dynamodb"
    assert profile["s3_bucket"] == f"flowlib-{ENV}-artifacts-123456789012-us-east-1"
    assert profile["dynamodb_table"] == f"flowlib-{ENV}-metadata"
    assert profile["environment"] == ENV and profile["region"] == "us-east-1"
    # The HTTP endpoint (on by default with Step Functions; its package built by platform).
    assert profile["http_api_url"].startswith("https://"), profile
    assert not any("secret" in k.lower() or "password" in k.lower() for k in profile)
    # The next thing to type.
    assert result.stdout.strip() == "python flow.py run"
    _passed.add("init")


def test_doctor_passes(platform: Platform) -> None:
    needs("init")
    result = platform.run("doctor", ENV, "--output", "json")
    assert result.code == 0, result.text
    report = json.loads(result.stdout)
    names = {c["name"] for c in report["checks"] if c["ok"]}
    assert report["ok"] and names >= {
        "artifact bucket reachable", "artifact bucket read/write", "metadata table",
        "batch queues and compute environments", "ecr repository", "events role and bus",
        "flowlib profile"}
    text = platform.run("doctor", ENV)
    assert text.code == 0 and "checks passed" in text.stdout
    # A profile edited by hand no longer agrees with the stack: a failing line, exit 1.
    saved = platform.config.read_text()
    edited = json.loads(saved)
    edited["profiles"][ENV]["s3_prefix"] = "elsewhere"
    platform.config.write_text(json.dumps(edited))
    try:
        bad = platform.run("doctor", ENV)
    finally:
        platform.config.write_text(saved)
    assert bad.code == 1, bad.text
    assert "FAIL flowlib profile: s3_prefix: profile has 'elsewhere'" in bad.stdout
    assert f"hint: `platform init {ENV}` rewrites the profile" in bad.stdout


def test_flow_run_uses_the_new_bucket_and_table(platform: Platform, tmp_path: Path) -> None:
    needs("init")
    env = {**platform.env, "FLOWLIB_PROFILE": ENV}
    run = subprocess.run([sys.executable, str(FLOW), "run"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    profile = platform.profiles()["profiles"][ENV]
    keys = [o["Key"] for o in platform.client("s3").list_objects_v2(
        Bucket=profile["s3_bucket"]).get("Contents", [])]
    assert keys and all(k.startswith(f"{profile['s3_prefix']}/") for k in keys)
    items = platform.client("dynamodb").scan(TableName=profile["dynamodb_table"],
                                             Select="COUNT")["Count"]
    assert items > 0
    read_back = subprocess.run(
        [sys.executable, "-c", "from flowlib import Flow; r = Flow('SmallFlow').latest_run; "
         "print(r.successful, r.data.greeting)"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert read_back.stdout.split() == ["True", "hello"], read_back.stdout + read_back.stderr
    _passed.add("flow")


def test_batch_run_needs_no_image_setting(platform: Platform, tmp_path: Path) -> None:
    """Right after ``platform init``, ``run --with batch`` works with no image anywhere: the
    step gets the official Python image, and its "container" (the Docker Engine API test
    server runs the job's command with a Python that has nothing installed, no PYTHONPATH
    and no package index) imports flowlib from the code package."""
    needs("init")
    from flowlib.remote.runtime import default_image
    from tests.support.aws_env import aws_env
    from tests.support.fake_docker import plain_python

    profile = platform.profiles()["profiles"][ENV]
    assert not profile.get("image") and profile["batch_job_queue"]
    docker = platform.moto.docker  # type: ignore[attr-defined]
    docker.base_env = {"PATH": "/usr/bin:/bin", **aws_env(platform.moto.url, "us-east-1")}
    docker.image_python[default_image()] = plain_python(tmp_path)
    docker.image_env[default_image()] = {"UV_OFFLINE": "1", "PIP_NO_INDEX": "1"}
    # The profile keeps the default host cache (/var/cache/flowlib); the test double's
    # instance has its disk under the temp folder.
    env = {**platform.env, "FLOWLIB_PROFILE": ENV, "FLOWLIB_BATCH_HOST_CACHE": docker.host_cache}
    run = subprocess.run([sys.executable, str(ANY_IMAGE_FLOW), "run", "--with", "batch"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    read_back = subprocess.run(
        [sys.executable, "-c", "from flowlib import Flow; r = Flow('AnyImageFlow').latest_run; "
         "t = r['start'].task; print(t.data.flowlib_file, t.data.boto3_file, t.data.python_prefix,"
         " t.data.stage0_seconds, r['end'].task.data.stage0_seconds)"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    flowlib_file, boto3_file, prefix, cold, warm = read_back.stdout.split()
    # flowlib from the code package, boto3 from the runtime bundle unpacked in the host's
    # cache folder, which the job definition mounts (each container's /tmp is its own): the
    # second job finds it there. Nothing from this checkout or this test's virtualenv.
    assert "/.flowlib-lib/flowlib/" in flowlib_file and not flowlib_file.startswith(str(REPO))
    assert boto3_file.startswith(os.path.join(docker.host_cache, "bundles", ""))
    assert prefix != sys.prefix
    batch = platform.client("batch")
    jobs = [j for j in batch.list_jobs(jobQueue=profile["batch_job_queue"],
                                       jobStatus="SUCCEEDED")["jobSummaryList"]
            if j["jobName"].startswith("flowlib-AnyImageFlow-")]
    job = batch.describe_jobs(jobs=[jobs[0]["jobId"]])["jobs"][0]
    definition = batch.describe_job_definitions(
        jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
    assert definition["containerProperties"]["image"] == default_image()
    assert definition["containerProperties"]["mountPoints"][0]["containerPath"] == \
        docker.host_cache
    assert float(warm) < float(cold)
    platform.timings["stage0_cold_host"] = float(cold)
    platform.timings["stage0_warm_host"] = float(warm)
    _passed.add("batch")


def test_status_reports_no_drift(platform: Platform) -> None:
    needs("init")
    result = platform.run("status", ENV)
    platform.timings["status"] = round(result.seconds, 1)
    assert result.code == 0, result.text
    assert "no drift" in result.stdout
    _passed.add("status")


def test_status_reports_a_change_made_behind_terraforms_back(platform: Platform) -> None:
    needs("status")
    bucket = platform.profiles()["profiles"][ENV]["s3_bucket"]
    platform.client("s3").put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    result = platform.run("status", ENV)
    assert result.code == 2, result.text
    assert "module.artifacts.aws_s3_bucket_versioning.this" in result.stdout
    assert "Suspended" in result.stdout and "Enabled" in result.stdout
    as_json = json.loads(platform.run("status", ENV, "-o", "json").stdout)
    assert as_json["drifted"] is True
    assert [c["address"] for c in as_json["changes_to_match_code"]] == [
        "module.artifacts.aws_s3_bucket_versioning.this"]
    planned = platform.run("plan", ENV)
    assert planned.code == 0, planned.text
    assert "update   module.artifacts.aws_s3_bucket_versioning.this" in planned.stdout
    # `platform apply` puts the code back.
    fixed = platform.run("apply", ENV, "--yes")
    assert fixed.code == 0, fixed.text
    assert platform.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert platform.run("status", ENV).code == 0
    _passed.add("drift")


def test_init_again_changes_nothing(platform: Platform) -> None:
    needs("drift")
    serial = state(platform)["serial"]
    result = platform.run("init", ENV, "--yes")
    platform.timings["init_again"] = round(result.seconds, 1)
    assert result.code == 0, result.text
    assert "no changes" in result.stderr and "nothing changed" in result.stderr
    assert "profile 'dev' unchanged" in result.stderr
    assert state(platform)["serial"] == serial


def test_env_list_show_export_import(platform: Platform, tmp_path: Path) -> None:
    needs("init")
    listed = json.loads(platform.run("env", "list", "-o", "json").stdout)["environments"]
    assert [(e["name"], e["status"], e["default"]) for e in listed] == [(ENV, "ready", True)]
    assert listed[0]["where"] == "local+state bucket"
    shown = json.loads(platform.run("env", "show", ENV, "-o", "json").stdout)
    assert shown["outputs"]["flowlib_config"]["s3_bucket"] == shown["profile"]["s3_bucket"]
    exported = tmp_path / "dev-profile.json"
    assert platform.run("env", "export", ENV, "-f", str(exported)).code == 0
    # A data scientist's machine: no AWS admin rights, no platform home, their own config.
    scientist = {"FLOWLIB_CONFIG": str(tmp_path / "scientist.json"),
                 "PLATFORM_HOME": str(tmp_path / "nothing")}
    imported = platform.run("configure", "import", str(exported), env=scientist)
    assert imported.code == 0, imported.text
    data = json.loads((tmp_path / "scientist.json").read_text())
    assert data["default_profile"] == ENV
    assert data["profiles"][ENV] == platform.profiles()["profiles"][ENV]


def test_failed_destroy_leaves_later_applies_protecting_data(platform: Platform) -> None:
    """A destroy lifts deletion protection for its own run only: when it fails (here Terraform
    refuses the destroy command through its documented TF_CLI_ARGS_destroy setting, after the
    protection was lifted), the record keeps what the user decided and the next apply puts
    the protection back."""
    needs("flow")
    table = f"flowlib-{ENV}-metadata"
    dynamodb = platform.client("dynamodb")
    result = platform.run("destroy", ENV, "--yes", "--delete-data",
                          env={"TF_CLI_ARGS_destroy": "-no-such-flag"})
    platform.timings["destroy_failing"] = round(result.seconds, 1)
    assert_clean_error(result, "terraform destroy failed")
    assert dynamodb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is False
    record = json.loads((platform.home / "envs" / ENV / "environment.json").read_text())
    assert record["last_status"] == "failed"
    assert not set(TEARDOWN_VARS) & set(record["sets"]), record["sets"]
    applied = platform.run("apply", ENV, "--yes")
    platform.timings["apply_after_failed_destroy"] = round(applied.seconds, 1)
    assert applied.code == 0, applied.text
    assert dynamodb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True
    forced = managed(state(platform))["module.artifacts.aws_s3_bucket.this"]
    assert forced["instances"][0]["attributes"]["force_destroy"] is False


def test_destroy_refuses_to_delete_data(platform: Platform) -> None:
    needs("flow")
    result = platform.run("destroy", ENV, "--yes")
    assert_clean_error(result, "Refusing to destroy", "--delete-data")
    assert platform.client("dynamodb").describe_table(TableName=f"flowlib-{ENV}-metadata")


def test_destroy_with_delete_data_leaves_nothing(platform: Platform) -> None:
    needs("init")
    profile = platform.profiles()["profiles"][ENV]
    result = platform.run("destroy", ENV, "--yes", "--delete-data")
    platform.timings["destroy"] = round(result.seconds, 1)
    assert result.code == 0, result.text
    buckets = [b["Name"] for b in platform.client("s3").list_buckets()["Buckets"]]
    assert buckets == [STATE_BUCKET]
    assert platform.client("dynamodb").list_tables()["TableNames"] == []
    assert platform.client("batch").describe_compute_environments()["computeEnvironments"] == []
    assert platform.client("batch").describe_job_queues()["jobQueues"] == []
    assert platform.client("ecr").describe_repositories()["repositories"] == []
    ec2 = platform.client("ec2")
    tagged = ec2.describe_vpcs(Filters=[{"Name": "tag:Environment", "Values": [ENV]}])["Vpcs"]
    assert tagged == []
    roles = [r["RoleName"] for r in platform.client("iam").list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith(f"flowlib-{ENV}")], roles
    kms = platform.client("kms")
    ours = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    ours = [k for k in ours if k.get("Description", "").startswith(f"flowlib-{ENV}:")]
    assert ours and {k["KeyState"] for k in ours} == {"PendingDeletion"}  # AWS's 30-day wait
    assert ENV not in platform.profiles().get("profiles", {})
    assert platform.profiles().get("default_profile") is None
    assert not (platform.home / "envs" / ENV).exists()
    objects = platform.client("s3").list_objects_v2(Bucket=STATE_BUCKET).get("Contents", [])
    assert [o["Key"] for o in objects if o["Key"].startswith(f"flowlib/{ENV}/")] == []
    assert profile["s3_bucket"] not in buckets
    listed = json.loads(platform.run("env", "list", "-o", "json").stdout)["environments"]
    assert listed == []
