"""What several commands share: preflight, the working copy, and Terraform ready to run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from platform_cli import environments as envs
from platform_cli.errors import PlatformError
from platform_cli.output import info

OK, FAIL = "ok  ", "FAIL"

ENV_ARG = click.argument("env", metavar="ENV")


def yes_option(f: Any) -> Any:
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(f)


def var_options(f: Any) -> Any:
    f = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="A root stack variable; JSON values are typed (true, 3, {...}). "
                          "Remembered for later commands.")(f)
    f = click.option("--unset", "unsets", multiple=True, metavar="KEY",
                     help="Forget a remembered --set value (the variable's default applies).")(f)
    f = click.option("--var-file", "var_files", multiple=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="A .tfvars or .tfvars.json file (repeatable). Remembered.")(f)
    return f


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
            check_lock: bool = True) -> Prepared:
    """Working copy, variables file and ``terraform init`` with the partial backend."""
    from platform_cli import state_backend
    from platform_cli.preflight import terraform_env
    from platform_cli.terraform_runner import TerraformRunner

    if check_lock and not record.lock_table:
        state_backend.check_lock(record.region, record.state_bucket, record.state_key)
    work = envs.prepare_working_copy(record.name)
    values = {**record.sets, "environment": record.name, "region": record.region}
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


def progress_printer() -> Any:
    def show(done: int, total: int, elapsed: float, text: str) -> None:
        minutes, seconds = divmod(int(elapsed), 60)
        info(f"  [{done:>3}/{max(total, done):<3}] {minutes:02d}:{seconds:02d}  {text}")

    return show


def summarise_changes(plan: Any, limit: int = 40) -> list[str]:
    counts = plan.counts
    lines = [f"Plan: {counts.get('create', 0)} to create, {counts.get('update', 0)} to update, "
             f"{counts.get('replace', 0)} to replace, {counts.get('delete', 0)} to destroy."]
    by_type: dict[tuple[str, str], int] = {}
    for change in plan.changes:
        key = (change["action"], change["type"])
        by_type[key] = by_type.get(key, 0) + 1
    symbols = {"create": "+", "update": "~", "delete": "-", "replace": "-/+"}
    for (action, kind), n in sorted(by_type.items())[:limit]:
        lines.append(f"  {symbols.get(action, '?'):>3} {n:>3} x {kind}")
    return lines


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    try:
        answer = click.confirm(question, default=False, err=True)
    except click.Abort:
        answer = False
    if not answer:
        raise PlatformError("Aborted: nothing was changed.")
