"""Config profiles: file, selection, env overrides with provenance, validation, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowlib import config
from flowlib.config import (
    effective_profile,
    load_config,
    profile_env,
)
from flowlib.config.writing import (
    profile_from_stack_output,
    write_profile,
)
from flowlib.exceptions import ConfigError

REPO = Path(__file__).resolve().parent.parent

DEV = {
    "datastore": "s3", "s3_bucket": "acme-dev", "s3_prefix": "flowlib",
    "s3_kms_key_arn": "arn:aws:kms:eu-west-1:1:key/k", "metadata": "dynamodb",
    "dynamodb_table": "acme-dev-metadata", "region": "eu-west-1",
}


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty environment: no FLOWLIB_*/AWS region variables, config file in tmp_path."""
    for var in list(os.environ):
        if var.startswith("FLOWLIB_") or var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            monkeypatch.delenv(var)
    path = tmp_path / "flowlib" / "config.json"
    monkeypatch.setenv("FLOWLIB_CONFIG", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def _write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_the_default_is_the_zero_setup_local_profile(cfg):
    profile = effective_profile()
    assert profile.name == "local" and not profile.is_aws
    assert profile.values == {"datastore": "local", "s3_prefix": "", "metadata": "local"}
    assert set(profile.sources.values()) == {"default"}


def test_config_file_in_the_xdg_config_dir(cfg, monkeypatch, tmp_path):
    monkeypatch.delenv("FLOWLIB_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.config_path() == tmp_path / "xdg" / "flowlib" / "config.json"


def test_profiles_selection_and_provenance(cfg, monkeypatch):
    _write(cfg, {"schema_version": 1, "default_profile": "dev",
                 "profiles": {"dev": DEV, "prod": {**DEV, "s3_bucket": "acme-prod"}}})
    dev = effective_profile()
    assert dev.name == "dev" and dev.name_source == f"file:{cfg}#default_profile"
    assert dev["s3_bucket"] == "acme-dev" and dev.sources["s3_bucket"] == f"file:{cfg}#dev"
    monkeypatch.setenv("FLOWLIB_PROFILE", "prod")
    monkeypatch.setenv("FLOWLIB_REGION", "eu-central-1")
    prod = effective_profile()
    assert prod.name == "prod" and prod["s3_bucket"] == "acme-prod"
    assert prod["region"] == "eu-central-1" and prod.sources["region"] == "env:FLOWLIB_REGION"
    assert effective_profile("local").values["datastore"] == "local"


def test_region_profile_wins_over_aws_region_which_is_a_fallback(cfg, monkeypatch):
    no_region = {k: v for k, v in DEV.items() if k != "region"}
    _write(cfg, {"schema_version": 1, "profiles": {"dev": DEV, "bare": no_region}})
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    assert effective_profile("dev")["region"] == "eu-west-1"
    bare = effective_profile("bare")
    assert bare["region"] == "us-east-2" and bare.sources["region"] == "env:AWS_REGION"
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ConfigError, match="Key 'region' is missing in profile 'bare'"):
        effective_profile("bare")


@pytest.mark.parametrize(
    "profile, message",
    [
        ({**DEV, "s3_bukcet": "x"},
         "Unknown key 's3_bukcet' in profile 'p' (file:{path}#p) (did you mean 's3_bucket'?)"),
        ({**DEV, "datastore": "s4"}, "Key 'datastore' in profile 'p' (file:{path}#p) is 's4' "
                                     "(did you mean 's3'?)"),
        ({k: v for k, v in DEV.items() if k != "s3_bucket"},
         "Key 's3_bucket' is missing in profile 'p': datastore is 's3' (file:{path}#p)"),
        ({k: v for k, v in DEV.items() if k != "dynamodb_table"},
         "Key 'dynamodb_table' is missing in profile 'p'"),
        ({**DEV, "region": 5}, "Key 'region' in profile 'p' (file:{path}#p) must be a string"),
        ({"s3_bucket": "b"}, "Key 's3_bucket' is set in profile 'p' (file:{path}#p) but "
                             "datastore is 'local'"),
        ({**DEV, "s3_prefix": "/x/"}, "without a leading or trailing slash"),
    ],
)
def test_invalid_profiles_name_the_key_and_the_profile(cfg, profile, message):
    _write(cfg, {"schema_version": 1, "profiles": {"p": profile}})
    with pytest.raises(ConfigError) as info:
        load_config()
    assert message.format(path=cfg) in str(info.value)


def test_invalid_env_override_names_the_variable(cfg, monkeypatch):
    monkeypatch.setenv("FLOWLIB_METADATA", "dynamo")
    with pytest.raises(ConfigError, match=r"Key 'metadata' in profile 'local' \(env:FLOWLIB_"
                                          r"METADATA\) is 'dynamo' \(did you mean 'dynamodb'"):
        effective_profile()


def test_file_level_errors(cfg):
    _write(cfg, {"profiles": {}})
    with pytest.raises(ConfigError, match="'schema_version' is missing"):
        load_config()
    _write(cfg, {"schema_version": 2, "profiles": {}})
    with pytest.raises(ConfigError, match="has schema_version 2; this flowlib reads version 1"):
        load_config()
    _write(cfg, {"schema_version": 1, "profile": {}})
    with pytest.raises(ConfigError, match="unknown top-level key 'profile'.*did you mean "
                                          "'profiles'"):
        load_config()
    cfg.write_text("{not json")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_config()


def test_unknown_profile_name(cfg, monkeypatch):
    _write(cfg, {"schema_version": 1, "profiles": {"dev": DEV}})
    monkeypatch.setenv("FLOWLIB_PROFILE", "dve")
    with pytest.raises(ConfigError, match=r"Profile 'dve' \(from env:FLOWLIB_PROFILE\) is not "
                                          r"defined .*did you mean 'dev'"):
        effective_profile()


def _stack_output() -> dict:
    keys = json.loads((REPO / "flowlib/config/stack_output_schema.json").read_text())["keys"]
    output = {k: None for k in keys}
    output.update({
        "schema_version": 1, "environment": "dev", "region": "eu-west-1",
        "s3_bucket": "acme-dev", "s3_prefix": "flowlib", "s3_kms_key_arn": "arn:kms",
        "dynamodb_table": "acme-dev-metadata", "task_role_arn": "arn:role",
        "batch_job_queues": {"cpu": "arn:queue/cpu"}, "batch_default_job_queue": "arn:queue/cpu",
        "kubernetes_namespace": "flowlib", "image": "repo/flowlib:1",
    })
    return output


def test_profile_from_the_terraform_stack_output_and_write_profile(cfg):
    profile = profile_from_stack_output({"value": _stack_output()})  # `terraform output -json`
    assert profile["datastore"] == "s3" and profile["metadata"] == "dynamodb"
    assert profile["batch_job_queue"] == "arn:queue/cpu"
    assert "eks_cluster_name" not in profile  # null: disabled in that environment
    path = write_profile("dev", profile, make_default=True)
    assert path == cfg and not list(cfg.parent.glob(".*.tmp"))
    resolved = effective_profile()
    assert resolved.name == "dev" and resolved["batch_job_queues"] == {"cpu": "arn:queue/cpu"}
    write_profile("other", {"datastore": "local"})
    assert load_config()["default_profile"] == "dev"
    with pytest.raises(ConfigError, match="Unknown key 'bucket'"):
        profile_from_stack_output({**_stack_output(), "bucket": "x"})


def test_profile_env_reproduces_the_profile_without_the_file(cfg, monkeypatch):
    _write(cfg, {"schema_version": 1, "profiles": {"dev": DEV}})
    dev = effective_profile("dev")
    env = profile_env(dev)
    assert env["FLOWLIB_CONFIG"] == "env" and env["FLOWLIB_PROFILE"] == "dev"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    again = effective_profile()
    assert again.values == dev.values and again.path is None
    assert again.sources["s3_bucket"] == "env:FLOWLIB_S3_BUCKET"


def test_local_profile_datastore_root_from_the_file(cfg, tmp_path):
    from flowlib.stores import stores_for

    root = tmp_path / "elsewhere"
    _write(cfg, {"schema_version": 1, "default_profile": "mine",
                 "profiles": {"mine": {"datastore_root": str(root)}}})
    stores = stores_for(effective_profile())
    assert stores.description == f"local folder {root}"
    assert stores.task_env["FLOWLIB_DATASTORE_ROOT"] == str(root)


def test_startup_stays_light_on_the_local_profile(cfg):
    code = ("import sys, flowlib, flowlib.stores as s; s.open_stores(); "
            "from flowlib import Flow; "
            "print(sorted(m for m in ('boto3', 'botocore', 'pandas', 'pyarrow') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ.copy(), check=True, cwd=REPO).stdout
    assert out.strip() == "[]"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowlib.cli.flowlib_command", *args],
                          capture_output=True, text=True, env=os.environ.copy(), cwd=REPO)


def test_cli_show_profiles_validate(cfg, monkeypatch):
    _write(cfg, {"schema_version": 1, "default_profile": "dev", "profiles": {"dev": DEV}})
    monkeypatch.setenv("FLOWLIB_S3_PREFIX", "team-a")
    shown = _cli("config", "show")
    assert shown.returncode == 0
    assert "profile: dev" in shown.stdout
    line = next(ln for ln in shown.stdout.splitlines() if ln.strip().startswith("s3_prefix"))
    assert "team-a" in line and "env:FLOWLIB_S3_PREFIX" in line
    as_json = json.loads(_cli("config", "show", "--profile", "local", "-o", "json").stdout)
    assert as_json["profile"] == "local"
    assert as_json["values"]["datastore"] == {"value": "local", "source": "default"}
    listed = _cli("config", "profiles").stdout
    assert "* dev" in listed and "s3://acme-dev/team-a" not in listed and "local" in listed
    assert _cli("config", "validate", "--all").returncode == 0
    _write(cfg, {"schema_version": 1, "profiles": {"dev": {**DEV, "tabel": "x"}}})
    bad = _cli("config", "validate")
    assert bad.returncode == 1
    assert bad.stderr.startswith("flowlib: Unknown key 'tabel' in profile 'dev'")
    assert "Traceback" not in bad.stderr
