"""Fixtures for the terraform/ and images/ tests: a terraform binary, the offline provider
mirror, and a copy of terraform/ with every configuration initialised."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.aws_env import (
    find_provider_mirror,
    run_terraform,
    terraform_binary,
    terraform_env,
)
from tests.terraform.helpers import (
    MODULE_NAMES,
    TerraformWorkspace,
    copy_terraform_tree,
    require_tool,
)


@pytest.fixture(scope="session")
def terraform() -> str:
    """Path of the terraform binary (skip locally / fail in CI when absent)."""
    return require_tool(terraform_binary(), "terraform", "see terraform/README.md")


@pytest.fixture(scope="session")
def provider_mirror(terraform: str) -> Path:
    """Root of the offline hashicorp provider mirror."""
    mirror = find_provider_mirror()
    return Path(require_tool(mirror, "a Terraform provider mirror with hashicorp/aws", "offline"))


@pytest.fixture(scope="session")
def tf_workspace(
    tmp_path_factory: pytest.TempPathFactory, terraform: str, provider_mirror: Path
) -> Iterator[TerraformWorkspace]:
    """Copy terraform/ once and run ``terraform init -backend=false`` in every config.

    The inits link the provider from the mirror and run two at a time (two cores here).
    """
    base = tmp_path_factory.mktemp("tf-validate")
    root = copy_terraform_tree(base / "terraform")
    env = terraform_env(base / "cli", mirror=provider_mirror)
    names = ["root", *MODULE_NAMES]
    workspace = TerraformWorkspace(root=root, env=env, init_errors={})

    def init(name: str) -> tuple[str, str | None]:
        result = run_terraform(
            ["init", "-backend=false", "-input=false"],
            workspace.config_dir(name),
            env,
            timeout=600,
            check=False,
        )
        return name, None if result.returncode == 0 else result.stdout + result.stderr

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(init, names))
    workspace.init_errors = {name: error for name, error in results if error is not None}
    yield workspace
