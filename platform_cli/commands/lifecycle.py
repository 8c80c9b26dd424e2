"""``init``, ``plan``, ``apply``, ``destroy`` and ``force-unlock``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from platform_cli import environments as envs
from platform_cli.commands.common import (
    ENV_ARG,
    OK,
    Prepared,
    confirm,
    preflight,
    prepare,
    progress_printer,
    summarise_changes,
    var_options,
    yes_option,
)
from platform_cli.errors import ApplyFailedError, PlatformError
from platform_cli.output import info

TEARDOWN_VARS = {
    "s3_bucket_force_destroy": True,
    "dynamodb_table_deletion_protection_enabled": False,
    "ecr_repository_force_delete": True,
}


def _merge_vars(record: envs.EnvRecord, var_files: tuple[Path, ...], sets: tuple[str, ...],
                unsets: tuple[str, ...] = ()) -> None:
    for key in unsets:
        record.sets.pop(key, None)
    if var_files:
        record.var_files = envs.default_var_files(record.name) + [
            str(p.resolve()) for p in var_files]
    record.sets.update(envs.parse_set(sets))


def _save(record: envs.EnvRecord, status: str | None = None) -> None:
    from platform_cli import state_backend

    if status:
        record.last_status = status
    envs.save_record(record)
    try:
        state_backend.put_record(record.region, record.state_bucket,
                                 envs.record_key(record.name), record.to_dict())
    except Exception:  # noqa: BLE001 - the local record is enough to go on
        info("note: could not copy the environment record to the state bucket")


def _apply(prepared: Prepared, yes: bool, verb: str) -> bool:
    """Plan, summarise, confirm, apply with progress. False when there was nothing to do."""
    runner, record = prepared.runner, prepared.record
    info("...  terraform plan")
    plan = runner.plan(prepared.var_files)
    if not plan.changed and not plan.output_changes:
        info(f"{OK} no changes: environment '{record.name}' already matches the code")
        return False
    for line in summarise_changes(plan):
        info(line)
    confirm(f"{verb} these changes to environment '{record.name}'?", yes)
    _save(record, "applying")
    total = len(plan.changes)
    info(f"...  terraform apply ({total} resource change(s))")
    result = runner.apply(total, progress_printer())
    if result.failed or result.errors:
        _save(record, "failed")
        failed = ", ".join(f"{a} ({e})" if e else a for a, e in result.failed) or "; ".join(
            result.errors)
        raise ApplyFailedError(
            f"Apply stopped after {len(result.done)} of {total} change(s); failed: {failed}. "
            f"Everything created so far is kept in the state "
            f"(s3://{record.state_bucket}/{record.state_key}).",
            hint=f"fix the cause (e.g. a --set value), then run `platform init {record.name}` "
                 "again: it continues from the saved state",
        )
    record.last_apply_at = time.time()
    info(f"{OK} applied {len(result.done)} change(s) in {result.elapsed:.0f}s")
    return True


def _write_profile_and_check(record: envs.EnvRecord, runner: Any) -> int:
    from platform_cli import doctor, profiles

    config = runner.outputs().get("flowlib_config")
    if not config:
        raise PlatformError("The stack has no flowlib_config output.",
                            hint="is PLATFORM_TERRAFORM_DIR the flowlib root stack?")
    profile = profiles.profile_for_stack(config)
    _, current_default = profiles.all_profiles()
    make_default = current_default in (None, "local")
    path, changed = profiles.write(record.name, profile, make_default=make_default)
    info(f"{OK} flowlib profile '{record.name}' {'written to' if changed else 'unchanged in'} "
         f"{path}" + (" (default profile)" if make_default else ""))
    for project_name, project_profile in profiles.project_profiles_for_stack(config).items():
        path, changed = profiles.write(project_name, project_profile)
        info(f"{OK} flowlib profile '{project_name}' (isolated project) "
             f"{'written to' if changed else 'unchanged in'} {path}")
    info("...  doctor")
    checks = doctor.run_checks(record.name, record.region, config, profiles.read(record.name))
    for check in checks:
        _print_check(check)
    return sum(1 for c in checks if not c.ok)


def _print_check(check: Any) -> None:
    info(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    if not check.ok and check.hint:
        info(f"       hint: {check.hint}")


@click.command("init")
@ENV_ARG
@click.option("--region", help="AWS region (default: AWS_REGION / the AWS config).")
@var_options
@yes_option
def init(env: str, region: str | None, var_files: tuple[Path, ...], sets: tuple[str, ...],
         unsets: tuple[str, ...], yes: bool) -> None:
    """Create ENV (or resume it) and write its flowlib profile.

    Checks credentials and tools, creates the state bucket if needed, plans, asks, applies,
    writes the flowlib profile ENV and runs the doctor. Re-running on a healthy environment
    changes nothing; after a failed or interrupted apply it continues from the saved state.

    \b
    Example:
        platform init dev --region eu-west-1 --yes
        platform init ml-prod --var-file prod.tfvars --set enable_eks=true
    """
    from platform_cli import state_backend

    started = time.monotonic()
    identity, record, binary, version = preflight(env, region)
    use_lockfile = version >= (1, 10, 0)
    region = identity.region
    boot = state_backend.bootstrap(identity.account_id, region, use_lockfile)
    info(f"{OK} state bucket {boot.bucket} ({'created' if boot.created else 'exists'}; "
         + ("S3-native locking)" if use_lockfile else f"lock table {boot.lock_table})"))
    for note in boot.notes:
        info(f"note {note}")
    if record is None:
        record = envs.EnvRecord(env, identity.account_id, region, boot.bucket,
                                envs.state_key(env), boot.lock_table,
                                var_files=envs.default_var_files(env))
    _merge_vars(record, var_files, sets, unsets)
    envs.save_record(record)
    prepared = prepare(record, binary, version)
    changed = _apply(prepared, yes, "Create")
    _save(record, "ready")
    failures = _write_profile_and_check(record, prepared.runner)
    elapsed = time.monotonic() - started
    if failures:
        _save(record, "unhealthy")
        raise PlatformError(
            f"Environment '{env}' is provisioned but {failures} doctor check(s) failed.",
            hint=f"see the lines above; `platform doctor {env}` re-checks")
    state = "ready" if changed else "already up to date, nothing changed"
    info(f"\nEnvironment '{env}' is {state} ({elapsed:.0f}s). Next:")
    from platform_cli import profiles

    _, default = profiles.all_profiles()
    prefix = "" if default == env else f"FLOWLIB_PROFILE={env} "
    click.echo(f"    {prefix}python flow.py run")


@click.command("plan")
@ENV_ARG
@var_options
def plan(env: str, var_files: tuple[Path, ...], sets: tuple[str, ...],
         unsets: tuple[str, ...]) -> None:
    """Show what `platform apply ENV` would change (nothing is changed).

    \b
    Example:
        platform plan dev --set enable_eks=true
    """
    envs.require_record(env)
    identity, record, binary, version = preflight(env, None, quiet=True)
    _merge_vars(record, var_files, sets, unsets)  # not saved: a plan changes nothing
    prepared = prepare(record, binary, version)
    result = prepared.runner.plan(prepared.var_files)
    if not result.changed:
        click.echo(f"No changes: environment '{env}' matches the code.")
        return
    for line in summarise_changes(result):
        click.echo(line)
    for change in result.changes:
        click.echo(f"  {change['action']:<8} {change['address']}")


@click.command("apply")
@ENV_ARG
@var_options
@yes_option
def apply(env: str, var_files: tuple[Path, ...], sets: tuple[str, ...],
          unsets: tuple[str, ...], yes: bool) -> None:
    """Apply changes to ENV: new variables, or a new version of the modules.

    \b
    Example:
        platform apply dev --set batch_default_compute_environment=cpu --yes
    """
    envs.require_record(env)
    identity, record, binary, version = preflight(env, None, quiet=True)
    _merge_vars(record, var_files, sets, unsets)
    prepared = prepare(record, binary, version)
    _apply(prepared, yes, "Apply")
    _save(record, "ready")
    failures = _write_profile_and_check(record, prepared.runner)
    if failures:
        raise PlatformError(f"{failures} doctor check(s) failed after the apply.")


def _data_left(record: envs.EnvRecord, config: dict[str, Any] | None) -> list[str]:
    """What destroy would delete that is data, not infrastructure."""
    import botocore.exceptions

    from platform_cli.preflight import aws_session

    if not config:
        return []
    session = aws_session(record.region)
    found = []
    try:
        listing = session.client("s3").list_object_versions(Bucket=config["s3_bucket"],
                                                            MaxKeys=1)
        if listing.get("Versions") or listing.get("DeleteMarkers"):
            found.append(f"objects in s3://{config['s3_bucket']}")
    except botocore.exceptions.ClientError:
        pass
    try:
        items = session.client("dynamodb").scan(TableName=config["dynamodb_table"], Limit=1,
                                                Select="COUNT")
        if items.get("Count"):
            found.append(f"records in table {config['dynamodb_table']}")
    except botocore.exceptions.ClientError:
        pass
    return found


@click.command("destroy")
@ENV_ARG
@click.option("--delete-data", is_flag=True,
              help="Also delete artifacts, metadata records and images (otherwise destroy "
                   "refuses while the bucket or the table holds data).")
@yes_option
def destroy(env: str, delete_data: bool, yes: bool) -> None:
    """Tear ENV down, then remove its flowlib profile.

    Shows what will go and asks for the environment's name to be typed; for names like
    prod the name is asked even with --yes (pipe it on stdin in automation).

    \b
    Example:
        platform destroy dev --delete-data --yes
    """
    from platform_cli import doctor, profiles, state_backend

    envs.require_record(env)
    identity, record, binary, version = preflight(env, None, quiet=True)
    started = time.monotonic()
    prepared = prepare(record, binary, version)
    runner = prepared.runner
    config = doctor.stack_config(state_backend.read_state(record.region, record.state_bucket,
                                                          record.state_key))
    data = _data_left(record, config)
    if data and not delete_data:
        raise PlatformError(
            f"Refusing to destroy '{env}': it still holds data ({'; '.join(data)}). Nothing "
            "was changed.",
            hint=f"copy what you need, then `platform destroy {env} --delete-data`")
    resources = [a for a in runner.state_list() if ".data." not in f".{a}"]
    info(f"Environment '{env}' (account {record.account_id}, {record.region}): "
         f"{len(resources)} resource(s) will be destroyed"
         + (", with all data" if delete_data else "") + ":")
    for address in resources:
        info(f"  - {address}")
    if envs.is_prod_like(env) or not yes:
        try:
            typed = click.prompt(f"Type the environment's name ({env}) to destroy it",
                                 default="", show_default=False, err=True)
        except click.Abort:
            typed = ""
        if typed.strip() != env:
            raise PlatformError("Aborted: the name did not match; nothing was changed.")
    teardown = {**record.sets, **TEARDOWN_VARS}
    record.sets = teardown
    prepared = prepare(record, binary, version, check_lock=False)
    runner = prepared.runner
    protected = [a for a in resources if a.rsplit(".", 2)[-2] in (
        "aws_s3_bucket", "aws_dynamodb_table", "aws_ecr_repository")]
    if protected:
        info("...  lifting deletion protection (bucket, table, repository)")
        result = runner.apply(len(protected), progress_printer(), targets=protected,
                              var_files=prepared.var_files, plan_file=None)
        if result.failed or result.errors:
            raise ApplyFailedError(f"Could not lift deletion protection: "
                                   f"{'; '.join(result.errors)}. Nothing was destroyed.")
    _save(record, "destroying")
    info(f"...  terraform destroy ({len(resources)} resources)")
    result = runner.destroy(prepared.var_files, len(resources), progress_printer())
    if result.failed or result.errors:
        _save(record, "failed")
        raise ApplyFailedError(
            f"Destroy stopped; failed: {'; '.join(result.errors) or result.failed}. What is "
            "left is still in the state.",
            hint=f"fix the cause and run `platform destroy {env}` again")
    state_backend.delete_environment_objects(record.region, record.state_bucket, env)
    removed = profiles.remove(env)
    envs.forget(env)
    info(f"{OK} destroyed {len(result.done)} resource(s) in {time.monotonic() - started:.0f}s"
         + (f"; flowlib profile '{env}' removed" if removed else ""))
    click.echo(f"Environment '{env}' is gone.")


@click.command("force-unlock")
@ENV_ARG
@click.argument("lock_id")
@yes_option
def force_unlock(env: str, lock_id: str, yes: bool) -> None:
    """Release the state lock LOCK_ID of ENV, left behind by a killed run.

    Only when no other run is active: unlocking under a live run can corrupt the state.

    \b
    Example:
        platform force-unlock dev 5f1c2a9e-...
    """
    envs.require_record(env)
    identity, record, binary, version = preflight(env, None, quiet=True)
    confirm(f"Release lock {lock_id} of '{env}'? Make sure no other run is active.", yes)
    prepared = prepare(record, binary, version, check_lock=False)
    prepared.runner.force_unlock(lock_id)
    click.echo(f"Lock {lock_id} of '{env}' released.")
