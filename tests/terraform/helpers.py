"""Helpers shared by the terraform/ and images/ tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

TERRAFORM_DIR = REPO_ROOT / "terraform"
MODULES_DIR = TERRAFORM_DIR / "modules"
MODULE_NAMES = sorted(p.name for p in MODULES_DIR.iterdir() if (p / "main.tf").is_file())
TABLE_SCHEMA_FILE = REPO_ROOT / "flowlib" / "metadata" / "table_schema.json"
STACK_OUTPUT_SCHEMA_FILE = REPO_ROOT / "flowlib" / "config" / "stack_output_schema.json"


def in_ci() -> bool:
    """True when running in CI, where a missing tool is a failure rather than a skip."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_tool(path: str | Path | None, what: str, how: str) -> str:
    """Return ``path`` if it exists; otherwise skip locally, fail in CI (env CI set)."""
    if path is not None and Path(path).exists():
        return str(path)
    message = f"{what} is not installed ({how})"
    if in_ci():
        pytest.fail(f"{message}; CI must have it")
    pytest.skip(message)


def copy_terraform_tree(destination: Path) -> Path:
    """Copy terraform/ to ``destination`` (symlinks resolved, no .terraform or state files).

    Tests work on copies so that no lock file, .terraform folder or state lands in the repo.
    """
    shutil.copytree(
        TERRAFORM_DIR,
        destination,
        symlinks=False,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
    )
    return destination


@dataclass
class TerraformWorkspace:
    """A copy of terraform/ with the root and every module initialised offline."""

    root: Path
    env: dict[str, str]
    init_errors: dict[str, str]

    def config_dir(self, name: str) -> Path:
        """Directory of ``"root"`` or a module name inside the copy."""
        return self.root if name == "root" else self.root / "modules" / name


def load_hcl(path: Path) -> dict[str, Any]:
    """Parse one .tf/.tfvars file with python-hcl2 8.x into plain dicts (quotes stripped)."""
    try:
        import hcl2
    except ImportError:
        require_tool(None, "python-hcl2", "run .ci/install-infra-tools.sh")
        raise
    options = hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=options)


def load_config(directory: Path) -> dict[str, list[Any]]:
    """Merge the top-level blocks of every .tf file in ``directory`` (lists concatenated)."""
    merged: dict[str, list[Any]] = {}
    for tf_file in sorted(directory.glob("*.tf")):
        for key, value in load_hcl(tf_file).items():
            merged.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    return merged
