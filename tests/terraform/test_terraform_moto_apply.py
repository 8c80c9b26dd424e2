"""The real Terraform binary applies the root stack (network + Batch + EKS) to a moto server,
boto3 checks what the stack promises, ``plan -detailed-exitcode`` finds nothing to change,
and ``destroy`` leaves nothing behind. State lives in moto's S3 through the partial S3
backend with ``use_lockfile`` (S3-native locking), as in production.

moto is a local stand-in for AWS, not AWS. What it cannot do is switched off through root
variables in the CI tfvars (ci_stack.py), and listed in terraform/README.md ("Tested against
moto"). The checks of what the stack promises are in apply_checks.py and
apply_checks_deployments.py.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_env import (
    MotoServer,
    aws_env,
    run_terraform,
    terraform_env,
)
from tests.terraform.apply_checks import (
    Clients,
    check_batch,
    check_bucket,
    check_ecr,
    check_eks,
    check_flowlib_config,
    check_network,
    check_nothing_left,
    check_state_in_s3_backend,
    check_table,
    check_task_role,
)
from tests.terraform.apply_checks_deployments import (
    check_events,
    check_http_api,
    check_retention_gc,
    check_step_functions,
)
from tests.terraform.ci_stack import (
    CI_TFVARS,
    MOTO_OVERRIDES,
    REGION,
    STATE_BUCKET,
    STATE_KEY,
)
from tests.terraform.helpers import (
    REPO_ROOT,
    copy_terraform_tree,
)


def _timed(timings: dict[str, float], name: str, action: Callable[[], Any]) -> Any:
    started = time.monotonic()
    try:
        return action()
    finally:
        timings[name] = round(time.monotonic() - started, 1)


def test_apply_verify_plan_destroy_against_moto(
    terraform: str, provider_mirror: Path, tmp_path: Path
) -> None:
    from tests.support.fake_docker import FakeDockerServer

    # moto's Batch runs submitted jobs through this Docker Engine API test double (a local
    # process per container), so the scheduled gc's job really runs once.
    docker = FakeDockerServer().start()
    server = MotoServer(
        mode="process",
        env={"MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "DOCKER_HOST": docker.docker_host},
        log_path=tmp_path / "moto.log",
        startup_timeout=120,
    )
    url = server.start()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWLIB_", "AWS_"))}
    docker.base_env = {**base, **aws_env(url, REGION), "PYTHONPATH": str(REPO_ROOT)}
    timings: dict[str, float] = {}
    try:
        _cycle(url, provider_mirror, tmp_path, timings)
    finally:
        server.stop()
        docker.stop()
        (tmp_path / "timings.json").write_text(json.dumps(timings, indent=2))
        print(f"\nterraform against moto, seconds: {json.dumps(timings)} ({tmp_path})")


def _cycle(url: str, mirror: Path, tmp_path: Path, timings: dict[str, float]) -> None:
    stack_dir = copy_terraform_tree(tmp_path / "terraform")
    for relative, text in MOTO_OVERRIDES.items():
        (stack_dir / relative).write_text(text)
    tfvars = tmp_path / "ci.tfvars.json"
    # The HTTP endpoint's Lambda package, built as `platform` builds it before an apply.
    from platform_cli.http_api_package import build_package

    package = build_package(tmp_path / "build")
    tfvars.write_text(json.dumps({**CI_TFVARS, **package.tfvars()}, indent=2))
    backend = tmp_path / "ci.s3.tfbackend"
    backend.write_text(
        "\n".join(
            [
                f'bucket = "{STATE_BUCKET}"',
                f'key = "{STATE_KEY}"',
                f'region = "{REGION}"',
                "use_lockfile = true",
                # moto-only settings, given at init time like any backend setting:
                "use_path_style = true",
                "skip_credentials_validation = true",
                "skip_requesting_account_id = true",
            ]
        )
        + "\n"
    )
    env = terraform_env(tmp_path / "cli", mirror=mirror, extra=aws_env(url, REGION))
    clients = Clients(url)
    clients.s3.create_bucket(Bucket=STATE_BUCKET)
    var_file = ["-var-file", str(tfvars)]

    _timed(
        timings,
        "init",
        lambda: run_terraform(["init", f"-backend-config={backend}"], stack_dir, env, timeout=600),
    )
    applied = False
    try:
        _timed(
            timings,
            "apply",
            lambda: run_terraform(
                ["apply", "-auto-approve", "-parallelism=10", *var_file],
                stack_dir,
                env,
                timeout=1500,
            ),
        )
        applied = True
        outputs = json.loads(run_terraform(["output", "-json"], stack_dir, env).stdout)
        config = outputs["flowlib_config"]["value"]
        kms_key_arn = outputs["kms_key_arn"]["value"]

        check_state_in_s3_backend(clients)
        check_flowlib_config(config)
        check_network(clients, outputs["vpc_id"]["value"])
        check_bucket(clients, config, kms_key_arn)
        check_table(clients, config, kms_key_arn)
        check_task_role(clients, config, outputs, kms_key_arn)
        check_batch(clients, config)
        check_eks(clients, config, kms_key_arn)
        check_ecr(clients, config, kms_key_arn)
        check_step_functions(clients, config)
        check_http_api(clients, config, outputs, package.sha256)
        check_events(clients, config, outputs)
        _timed(timings, "gc job", lambda: check_retention_gc(clients, config, outputs))

        plan = _timed(
            timings,
            "plan",
            lambda: run_terraform(
                ["plan", "-detailed-exitcode", "-input=false", *var_file],
                stack_dir,
                env,
                timeout=900,
                check=False,
            ),
        )
        assert plan.returncode == 0, (
            f"plan after apply is not empty (exit {plan.returncode}):\n"
            f"{plan.stdout[-15000:]}\n{plan.stderr[-5000:]}"
        )
    finally:
        if applied or (tmp_path / "terraform" / ".terraform").exists():
            _timed(
                timings,
                "destroy",
                lambda: run_terraform(
                    ["destroy", "-auto-approve", "-parallelism=10", *var_file],
                    stack_dir,
                    env,
                    timeout=1500,
                ),
            )
    state_list = run_terraform(["state", "list"], stack_dir, env).stdout.split()
    assert state_list == [], f"resources left in state after destroy: {state_list}"
    check_nothing_left(clients, config)


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
