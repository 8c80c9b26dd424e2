"""Where an environment lives on this machine, and what was decided for it.

Each environment has a folder ``$PLATFORM_HOME/envs/<env>/`` holding:

* ``environment.json``: the record (account, region, state bucket and key, var files and
  ``--set`` values) so that ``plan``, ``apply``, ``status`` and ``destroy`` use exactly what
  ``init`` used: a forgotten ``--set`` would otherwise show up as drift;
* ``stack/``: a working copy of the Terraform root stack, refreshed from the source on each
  run, so ``.terraform/`` and plan files never land in the repository.

The record is also copied to the state bucket (``flowlib/<env>/platform.json``) so that
another operator's machine can find the environment (``platform env list``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from platform_cli.errors import InvalidNameError, PlatformError, UnknownEnvironmentError

# = the root stack's `environment` validation. Always used with ``fullmatch``: ``$`` in
# ``match`` also accepts a name ending in a newline ("dev\n").
NAME_RE = re.compile(r"[a-z][a-z0-9-]{1,20}")
RESERVED = {"local", "env", "default"}
PROD_RE = re.compile(r"(^|-)(prod|prd|production|live)(-|$|\d)")
STATE_KEY_PREFIX = "flowlib"


def is_valid_name(name: object) -> bool:
    """True for a name ``validate_name`` accepts (no message; for filtering listings)."""
    return isinstance(name, str) and name not in RESERVED and bool(NAME_RE.fullmatch(name))


def validate_name(name: str) -> str:
    """Names are the stack's ``environment`` variable and the flowlib profile name at once,
    and a folder name under ``$PLATFORM_HOME/envs``: every command taking a name checks it
    here first (``commands.common.ENV_ARG``)."""
    if name in RESERVED:
        raise InvalidNameError(
            f"'{name}' is reserved by flowlib; choose another environment name (e.g. dev).")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidNameError(
            f"Invalid environment name {name!r}: use 2-21 characters, lowercase letters, digits "
            "and dashes, starting with a letter (e.g. dev, ml-prod).")
    return name


def is_prod_like(name: str) -> bool:
    return bool(PROD_RE.search(name))


def platform_home() -> Path:
    explicit = os.environ.get("PLATFORM_HOME")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                           "share")
    return Path(base) / "flowlib-platform"


def env_dir(name: str) -> Path:
    return platform_home() / "envs" / validate_name(name)


def terraform_source_dir() -> Path:
    """The root stack: ``PLATFORM_TERRAFORM_DIR``, else shipped package data, else the repo."""
    explicit = os.environ.get("PLATFORM_TERRAFORM_DIR")
    candidates = [Path(explicit).expanduser()] if explicit else []
    here = Path(__file__).resolve().parent
    candidates += [here / "terraform", here.parent / "terraform"]
    for candidate in candidates:
        if (candidate / "main.tf").is_file() and (candidate / "outputs.tf").is_file():
            return candidate
    raise PlatformError(
        "Cannot find the Terraform root stack (looked in "
        + ", ".join(str(c) for c in candidates) + ").",
        hint="set PLATFORM_TERRAFORM_DIR to the terraform/ folder of the flowlib platform",
    )


def state_key(name: str) -> str:
    return f"{STATE_KEY_PREFIX}/{name}/terraform.tfstate"


def record_key(name: str) -> str:
    return f"{STATE_KEY_PREFIX}/{name}/platform.json"


@dataclass
class EnvRecord:
    """What ``init`` decided for an environment; reused by every later command."""

    name: str
    account_id: str
    region: str
    state_bucket: str
    state_key: str
    lock_table: str | None = None
    var_files: list[str] = field(default_factory=list)
    sets: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    last_apply_at: float | None = None
    last_status: str = "new"  # new | applying | failed | ready | destroyed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def record_path(name: str) -> Path:
    return env_dir(name) / "environment.json"


def load_record(name: str) -> EnvRecord | None:
    path = record_path(name)
    if not path.exists():
        return None
    try:
        return EnvRecord.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise PlatformError(
            f"The record of environment '{name}' ({path}) is unreadable: {exc}.",
            hint=f"delete {path} and run `platform init {name}` again: it finds the state "
                 "in the state bucket and changes nothing that exists",
        ) from None


def require_record(name: str) -> EnvRecord:
    validate_name(name)
    record = load_record(name)
    if record is None:
        known = ", ".join(local_names()) or "none"
        raise UnknownEnvironmentError(
            f"Unknown environment '{name}' on this machine (known: {known}).",
            hint=f"create it with `platform init {name}`; `platform env list` also shows "
                 "environments found in the state bucket",
        )
    return record


def save_record(record: EnvRecord) -> Path:
    path = record_path(record.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def forget(name: str) -> None:
    """Remove the local folder of an environment (after destroy)."""
    shutil.rmtree(env_dir(name), ignore_errors=True)


def local_names() -> list[str]:
    root = platform_home() / "envs"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if is_valid_name(p.name) and (p / "environment.json").is_file())


def prepare_working_copy(name: str) -> Path:
    """Refresh ``envs/<env>/stack`` from the source stack, keeping ``.terraform`` and the lock
    file (so re-runs need no new provider install)."""
    source = terraform_source_dir()
    work = env_dir(name) / "stack"
    work.mkdir(parents=True, exist_ok=True)
    keep = {".terraform", ".terraform.lock.hcl", "platform.tfvars.json"}
    for child in work.iterdir():
        if child.name in keep or child.suffix == ".tfplan":
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    for child in source.iterdir():
        if child.name in keep or child.name.startswith(".") or child.suffix in (".tfstate",):
            continue
        target = work / child.name
        if child.is_dir():
            shutil.copytree(child, target, ignore=shutil.ignore_patterns(
                ".terraform", "*.tfstate*", ".terraform.lock.hcl"))
        else:
            shutil.copy2(child, target)
    return work


def parse_set(values: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON (numbers, true, null, {...}) is typed."""
    parsed: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not re.match(r"^[a-z_][a-z0-9_]*$", key):
            raise PlatformError(
                f"Invalid --set '{item}': expected key=value with a Terraform variable name.",
                hint="e.g. --set enable_eks=true --set tags='{\"Team\":\"ml\"}'")
        if key in ("environment", "region"):
            raise PlatformError(
                f"--set {key}=... is not allowed: the environment name and --region decide it.")
        try:
            parsed[key] = json.loads(raw)
        except ValueError:
            parsed[key] = raw
    return parsed


def default_var_files(name: str) -> list[str]:
    """The stack's ``environments/<env>.tfvars`` when it exists (dev and prod ship one)."""
    source = terraform_source_dir() / "environments" / f"{name}.tfvars"
    return [str(source)] if source.is_file() else []
