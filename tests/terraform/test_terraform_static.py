"""Static gates on terraform/: fmt, init + validate of every config, checkov."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.aws_env import run_terraform
from tests.terraform.helpers import (
    MODULE_NAMES,
    REPO_ROOT,
    TERRAFORM_DIR,
    TerraformWorkspace,
    require_tool,
)

CHECKOV_VENV = REPO_ROOT / ".venv-checkov"


def test_fmt(terraform: str, tmp_path: Path) -> None:
    """terraform fmt -check -recursive terraform/ reports no file."""
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("config", ["root", *MODULE_NAMES])
def test_init_and_validate(tf_workspace: TerraformWorkspace, config: str) -> None:
    """Every module and the root initialise offline and validate."""
    assert config not in tf_workspace.init_errors, tf_workspace.init_errors.get(config)
    result = run_terraform(
        ["validate", "-json"], tf_workspace.config_dir(config), tf_workspace.env, check=False
    )
    report = json.loads(result.stdout)
    problems = [
        f"{d['severity']}: {d['summary']}: {d.get('detail', '')} ({d.get('range', {})})"
        for d in report.get("diagnostics", [])
    ]
    assert report["valid"], "\n".join(problems)
    # Deprecation warnings today are removals tomorrow.
    assert not problems, "\n".join(problems)


def test_checkov_has_no_failed_checks(tmp_path: Path) -> None:
    """checkov over terraform/ finds zero failed checks (skips are listed in the README)."""
    checkov = require_tool(
        CHECKOV_VENV / "bin" / "checkov", "checkov", "run .ci/install-infra-tools.sh"
    )
    result = subprocess.run(
        [
            checkov,
            "-d",
            str(TERRAFORM_DIR),
            "--framework",
            "terraform",
            "--compact",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=REPO_ROOT,
    )
    try:
        parsed = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {result.returncode}):\n{result.stderr[-5000:]}")
    reports = parsed if isinstance(parsed, list) else [parsed]
    summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0}
    failed: list[str] = []
    for report in reports:
        for key in summary:
            summary[key] += int(report.get("summary", {}).get(key, 0))
        for check in report.get("results", {}).get("failed_checks", []):
            failed.append(
                f"{check['check_id']} {check['check_name']} "
                f"{check['file_path']}:{check['file_line_range']} {check['resource']}"
            )
    (tmp_path / "checkov-summary.json").write_text(json.dumps(summary))
    print(f"\ncheckov summary: {summary}")
    assert summary["passed"] > 0, f"checkov checked nothing: {summary}"
    assert summary["parsing_errors"] == 0, summary
    assert summary["failed"] == 0, "\n".join(failed)


def test_checkov_skips_are_listed_in_readme() -> None:
    """Every inline checkov skip has a reason and appears in terraform/README.md."""
    readme = (TERRAFORM_DIR / "README.md").read_text()
    missing = []
    for tf_file in TERRAFORM_DIR.rglob("*.tf"):
        for number, line in enumerate(tf_file.read_text().splitlines(), start=1):
            if "checkov:skip=" not in line:
                continue
            spec = line.split("checkov:skip=", 1)[1]
            check_id, _, reason = spec.partition(":")
            where = f"{tf_file.relative_to(REPO_ROOT)}:{number}"
            assert len(reason.strip()) >= 20, f"{where}: skip of {check_id} needs a real reason"
            if check_id.strip() not in readme:
                missing.append(f"{where}: {check_id}")
    assert not missing, f"checkov skips not listed in terraform/README.md: {missing}"
