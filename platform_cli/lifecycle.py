"""The lifecycle of an environment as plain functions: ``init``, ``plan``, ``apply``,
``destroy`` and ``force_unlock``.

Each function takes the decisions a command line collects (the name, variables, whether to
go ahead) and returns what happened; the click commands in ``commands/lifecycle.py`` only parse
options, ask, and print. Progress narration goes to stderr through ``output.info`` (as a
long-running Terraform call needs it live); questions are asked through callbacks, so a
caller without a terminal (a test, another tool) decides them in code.

What is stored is only ever what the user decided: the environment record (``--set`` values,
var files) never takes the variables a destroy uses to lift deletion protection. Those go
into the one run's variables file only (``prepare(..., run_vars=TEARDOWN_VARS)``), so a failed
or interrupted destroy leaves a record with which the next ``apply`` puts protection back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_cli import environments as envs
from platform_cli.errors import ApplyFailedError, PlatformError
from platform_cli.output import info

OK, FAIL = "ok  ", "FAIL"

# Variables a destroy applies to its own run only (never to the record): without them
# Terraform refuses to delete the bucket, the table and the repository.
TEARDOWN_VARS: dict[str, Any] = {
    "s3_bucket_force_destroy": True,
    "dynamodb_table_deletion_protection_enabled": False,
    "ecr_repository_force_delete": True,
}

Progress = Callable[[int, int, float, str], None]


def _progress(done: int, total: int, elapsed: float, text: str) -> None:
    minutes, seconds = divmod(int(elapsed), 60)
    info(f"  [{done:>3}/{max(total, done):<3}] {minutes:02d}:{seconds:02d}  {text}")


# -- preparing a run ---------------------------------------------------------------------------
@dataclass
class Prepared:
    record: envs.EnvRecord
    runner: Any  # TerraformRunner
    var_files: list[str]
    version: tuple[int, int, int]


def preflight(env: str, region: str | None, quiet: bool = False) -> tuple[Any, Any, str,
                                                                          tuple[int, int, int]]:
    """Name, config file, region, identity, Terraform and provider; a line each."""
    from platform_cli import preflight as pf

    envs.validate_name(env)
    say = (lambda _m: None) if quiet else info
    config_file = pf.check_flowlib_config()
    record = envs.load_record(env)
    region = pf.resolve_region(region, record.region if record else None)
    if record and record.region != region:
        raise PlatformError(
            f"Environment '{env}' lives in {record.region}, not {region}.",
            hint=f"omit --region, or choose another name for an environment in {region}")
    identity = pf.who_am_i(region, record.account_id if record else None)
    say(f"{OK} identity     account {identity.account_id} as {identity.arn}")
    say(f"{OK} region       {region}")
    binary = pf.terraform_binary()
    version = pf.terraform_version(binary)
    say(f"{OK} terraform    {'.'.join(map(str, version))} ({binary})")
    ok, where = pf.provider_source(pf.terraform_env())
    if not ok:
        raise PlatformError(f"The AWS provider cannot be installed: {where}.",
                            hint="fix the mirror in TF_CLI_CONFIG_FILE, or unset it to download "
                                 "from the registry")
    say(f"{OK} provider     {where}")
    say(f"{OK} environment  '{env}' (flowlib profile '{env}' in {config_file})")
    return identity, record, binary, version


def prepare(record: envs.EnvRecord, binary: str, version: tuple[int, int, int],
            check_lock: bool = True, run_vars: dict[str, Any] | None = None) -> Prepared:
    """Working copy, variables file and ``terraform init`` with the partial backend.

    ``run_vars`` override the record's values for this run only; they are never saved."""
    from platform_cli import state_backend
    from platform_cli.preflight import terraform_env
    from platform_cli.terraform_runner import TerraformRunner

    if check_lock and not record.lock_table:
        state_backend.check_lock(record.region, record.state_bucket, record.state_key)
    work = envs.prepare_working_copy(record.name)
    values = {**record.sets, **(run_vars or {}), "environment": record.name,
              "region": record.region}
    values.update(http_api_vars(values, work))
    platform_vars = work / "platform.tfvars.json"
    platform_vars.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    var_files = [*record.var_files, str(platform_vars)]
    runner = TerraformRunner(work, binary, terraform_env())
    backend = state_backend.backend_config(record.state_bucket, record.state_key,
                                           record.region, record.lock_table)
    stamp = work / ".terraform" / "platform-init.stamp"
    fingerprint = _fingerprint(work, backend)
    if not (stamp.is_file() and stamp.read_text() == fingerprint):
        info(f"...  terraform init (state s3://{record.state_bucket}/{record.state_key})")
        runner.init(backend)
        stamp.write_text(fingerprint)
    return Prepared(record, runner, var_files, version)


def http_api_vars(values: dict[str, Any], work: Path) -> dict[str, Any]:
    """The HTTP endpoint's Lambda package, built here before every plan and apply
    (``platform_cli.http_api_package``), unless the endpoint is off or a package is given."""
    off = any(values.get(k) is False for k in ("enable_http_api", "enable_step_functions",
                                                "enable_batch"))
    if off or values.get("http_api_package_path"):
        return {}
    from platform_cli.http_api_package import build_package

    # Beside the working copy, which prepare_working_copy refreshes: the zip is reused while
    # flowlib and its dependencies are unchanged.
    return build_package(work.parent / "http-api").tfvars(relative_to=work)


def _fingerprint(work: Path, backend: dict[str, str]) -> str:
    """What ``terraform init`` depends on: the backend settings and the module sources. When
    unchanged since the last successful init, the init (a few seconds) is skipped."""
    import hashlib

    digest = hashlib.sha256(json.dumps(backend, sort_keys=True).encode())
    for path in sorted(work.rglob("*.tf")):
        if ".terraform" not in path.parts:
            digest.update(str(path.relative_to(work)).encode())
            digest.update(path.read_bytes())
    lock = work / ".terraform.lock.hcl"
    if lock.is_file():
        digest.update(lock.read_bytes())
    return digest.hexdigest()


def merge_vars(record: envs.EnvRecord, var_files: tuple[Path, ...] | list[Path] = (),
               sets: tuple[str, ...] | list[str] = (),
               unsets: tuple[str, ...] | list[str] = ()) -> None:
    """The user's new decisions onto the record (saved by the caller when they should be)."""
    for key in unsets:
        record.sets.pop(key, None)
    if var_files:
        record.var_files = envs.default_var_files(record.name) + [
            str(Path(p).resolve()) for p in var_files]
    record.sets.update(envs.parse_set(sets))


def save(record: envs.EnvRecord, status: str | None = None) -> None:
    """The record, locally and in the state bucket (for other operators' machines)."""
    from platform_cli import state_backend

    if status:
        record.last_status = status
    envs.save_record(record)
    try:
        state_backend.put_record(record.region, record.state_bucket,
                                 envs.record_key(record.name), record.to_dict())
    except Exception:  # noqa: BLE001 - the local record is enough to go on
        info("note: could not copy the environment record to the state bucket")


# -- results -----------------------------------------------------------------------------------
@dataclass
class Provisioned:
    """What ``init`` or ``apply`` did."""

    env: str
    changed: bool
    applied: int
    profile_path: Path
    profile_changed: bool
    made_default: bool
    checks: list[Any] = field(default_factory=list)  # doctor.Check
    elapsed: float = 0.0

    @property
    def failed_checks(self) -> list[Any]:
        return [c for c in self.checks if not c.ok]


@dataclass
class Destroyed:
    env: str
    destroyed: int
    profile_removed: bool
    elapsed: float


ConfirmPlan = Callable[[Any], bool]           # (PlanResult) -> go ahead?
ConfirmDestroy = Callable[[list[str]], bool]  # (resource addresses) -> go ahead?


# -- operations --------------------------------------------------------------------------------
def init_environment(env: str, region: str | None = None, var_files: tuple[Path, ...] = (),
                     sets: tuple[str, ...] = (), unsets: tuple[str, ...] = (),
                     confirm: ConfirmPlan = lambda _plan: True) -> Provisioned:
    """Create ENV, or continue it after a failed or interrupted apply; then write its
    profile and run the doctor. Changes nothing on a healthy, up-to-date environment."""
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
    merge_vars(record, var_files, sets, unsets)
    envs.save_record(record)
    return _provision(record, binary, version, confirm, started)


def apply_environment(env: str, var_files: tuple[Path, ...] = (), sets: tuple[str, ...] = (),
                      unsets: tuple[str, ...] = (),
                      confirm: ConfirmPlan = lambda _plan: True) -> Provisioned:
    """Apply new variables or a new version of the modules to an existing ENV."""
    started = time.monotonic()
    envs.require_record(env)
    _, record, binary, version = preflight(env, None, quiet=True)
    merge_vars(record, var_files, sets, unsets)
    return _provision(record, binary, version, confirm, started)


def plan_environment(env: str, var_files: tuple[Path, ...] = (), sets: tuple[str, ...] = (),
                     unsets: tuple[str, ...] = ()) -> Any:
    """What an apply would change (a ``PlanResult``); nothing is changed or saved."""
    envs.require_record(env)
    _, record, binary, version = preflight(env, None, quiet=True)
    merge_vars(record, var_files, sets, unsets)  # not saved: a plan changes nothing
    prepared = prepare(record, binary, version)
    return prepared.runner.plan(prepared.var_files)


def destroy_environment(env: str, delete_data: bool = False,
                        confirm: ConfirmDestroy = lambda _resources: True) -> Destroyed:
    """Lift deletion protection, destroy every resource of ENV, then forget ENV here and in
    the state bucket. Refuses while the bucket or the table holds data unless
    ``delete_data``. A failure leaves the record as the user last decided it."""
    from platform_cli import doctor, profiles, state_backend

    envs.require_record(env)
    _, record, binary, version = preflight(env, None, quiet=True)
    started = time.monotonic()
    prepared = prepare(record, binary, version)
    config = doctor.stack_config(state_backend.read_state(record.region, record.state_bucket,
                                                          record.state_key))
    data = _data_left(record, config)
    if data and not delete_data:
        raise PlatformError(
            f"Refusing to destroy '{env}': it still holds data ({'; '.join(data)}). Nothing "
            "was changed.",
            hint=f"copy what you need, then `platform destroy {env} --delete-data`")
    resources = [a for a in prepared.runner.state_list() if ".data." not in f".{a}"]
    if not confirm(resources):
        raise PlatformError("Aborted: the name did not match; nothing was changed.")
    prepared = prepare(record, binary, version, check_lock=False, run_vars=TEARDOWN_VARS)
    runner = prepared.runner
    protected = [a for a in resources if a.rsplit(".", 2)[-2] in (
        "aws_s3_bucket", "aws_dynamodb_table", "aws_ecr_repository")]
    if protected:
        info("...  lifting deletion protection (bucket, table, repository)")
        result = runner.apply(len(protected), _progress, targets=protected,
                              var_files=prepared.var_files, plan_file=None)
        if result.failed or result.errors:
            raise ApplyFailedError(f"Could not lift deletion protection: "
                                   f"{'; '.join(result.errors)}. Nothing was destroyed.",
                                   hint=f"`platform apply {env}` puts the protection back")
    save(record, "destroying")
    info(f"...  terraform destroy ({len(resources)} resources)")
    try:
        result = runner.destroy(prepared.var_files, len(resources), _progress)
    except PlatformError:  # Terraform did not start, was interrupted, or the lock is held
        save(record, "failed")
        raise
    if result.failed or result.errors:
        save(record, "failed")
        raise ApplyFailedError(
            f"Destroy stopped; failed: {'; '.join(result.errors) or result.failed}. What is "
            "left is still in the state, with its deletion protection lifted.",
            hint=f"fix the cause and run `platform destroy {env}` again, or `platform apply "
                 f"{env}` to keep the environment (it puts the protection back)")
    state_backend.delete_environment_objects(record.region, record.state_bucket, env)
    removed = profiles.remove(env)
    envs.forget(env)
    return Destroyed(env, len(result.done), removed, time.monotonic() - started)


def force_unlock(env: str, lock_id: str) -> None:
    """Release the state lock ``lock_id`` of ENV (only when no other run is active)."""
    envs.require_record(env)
    _, record, binary, version = preflight(env, None, quiet=True)
    prepare(record, binary, version, check_lock=False).runner.force_unlock(lock_id)


# -- steps -------------------------------------------------------------------------------------
def _provision(record: envs.EnvRecord, binary: str, version: tuple[int, int, int],
               confirm: ConfirmPlan, started: float) -> Provisioned:
    prepared = prepare(record, binary, version)
    applied = _apply(prepared, confirm)
    save(record, "ready")
    result = _write_profile_and_check(record, prepared.runner)
    result.changed, result.applied = applied is not None, applied or 0
    if result.failed_checks:
        save(record, "unhealthy")
    result.elapsed = time.monotonic() - started
    return result


def _apply(prepared: Prepared, confirm: ConfirmPlan) -> int | None:
    """Plan, confirm, apply with progress: the number of changes, None when there was
    nothing to do."""
    runner, record = prepared.runner, prepared.record
    info("...  terraform plan")
    plan = runner.plan(prepared.var_files)
    if not plan.changed and not plan.output_changes:
        info(f"{OK} no changes: environment '{record.name}' already matches the code")
        return None
    if not confirm(plan):
        raise PlatformError("Aborted: nothing was changed.")
    save(record, "applying")
    total = len(plan.changes)
    info(f"...  terraform apply ({total} resource change(s))")
    result = runner.apply(total, _progress)
    if result.failed or result.errors:
        save(record, "failed")
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
    return len(result.done)


def _write_profile_and_check(record: envs.EnvRecord, runner: Any) -> Provisioned:
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
        project_path, project_changed = profiles.write(project_name, project_profile)
        info(f"{OK} flowlib profile '{project_name}' (isolated project) "
             f"{'written to' if project_changed else 'unchanged in'} {project_path}")
    info("...  doctor")
    checks = doctor.run_checks(record.name, record.region, config, profiles.read(record.name))
    return Provisioned(record.name, False, 0, path, changed, make_default, checks)


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
