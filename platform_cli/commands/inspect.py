"""``status`` (drift) and ``doctor`` (live checks)."""

from __future__ import annotations

import sys

import click

from platform_cli import environments as envs
from platform_cli.commands.common import ENV_ARG, preflight, prepare
from platform_cli.output import emit_json, output_option


@click.command("status")
@ENV_ARG
@output_option
def status(env: str, output: str) -> None:
    """Drift of ENV: what differs between the account and the code.

    Exit 0 when ENV matches the code, 2 when it has drifted (as `terraform plan
    -detailed-exitcode`), 1 on errors.

    \b
    Example:
        platform status dev --output json
    """
    from platform_cli import drift

    envs.require_record(env)
    _, record, binary, version = preflight(env, None, quiet=True)
    prepared = prepare(record, binary, version)
    plan = prepared.runner.plan(prepared.var_files)
    if output == "json":
        emit_json({"environment": env, **drift.report(plan)})
    else:
        for line in drift.render(env, plan):
            click.echo(line)
    sys.exit(2 if plan.changed else 0)


@click.command("doctor")
@ENV_ARG
@output_option
def doctor(env: str, output: str) -> None:
    """Live checks of ENV: bucket read/write, table schema, Batch, EKS, ECR, profile.

    Exit 1 if any check fails.

    \b
    Example:
        platform doctor dev
    """
    from platform_cli import doctor as checks_module
    from platform_cli import profiles, state_backend
    from platform_cli.preflight import check_flowlib_config, who_am_i

    envs.validate_name(env)
    check_flowlib_config()
    record = envs.require_record(env)
    who_am_i(record.region, record.account_id)
    state = state_backend.read_state(record.region, record.state_bucket, record.state_key)
    checks = checks_module.run_checks(env, record.region, checks_module.stack_config(state),
                                      profiles.read(env))
    failed = [c for c in checks if not c.ok]
    if output == "json":
        emit_json({"environment": env, "ok": not failed,
                   "checks": [c.to_dict() for c in checks]})
    else:
        for check in checks:
            click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
            if not check.ok and check.hint:
                click.echo(f"       hint: {check.hint}")
        click.echo(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
    if failed:
        sys.exit(1)
