"""The HTTP endpoint's Lambda package (terraform/modules/http_api): the flowlib package and its
run-time dependencies in one deterministic zip, built by ``platform`` before every plan and
apply (``lifecycle.prepare``) and passed to Terraform as ``http_api_package_path``, with the
matching ``http_api_runtime`` and ``http_api_architecture``. (Terraform's archive provider
is not an option: the stack uses hashicorp/aws only.)

Where the dependencies come from:

* ``platform`` runs on the Lambda's platform (Linux, x86_64 or aarch64, a CPython Lambda
  offers): the installed distributions are copied, the very versions flowlib runs with here,
  and the runtime is this Python's (``python3.11`` for Python 3.11). No download.
* anywhere else (macOS, Windows, another Python): ``pip install --target`` fetches the
  manylinux wheels of the same requirements for ``python3.12`` on x86_64.

boto3 and botocore are left out: every Python Lambda runtime provides them, and botocore alone
would be most of the package. The zip has sorted entries and fixed timestamps, so the same
content gives the same bytes and ``source_code_hash``: Terraform updates the function only
when its code changed. It is rebuilt only when an input file changed (a stamp beside it).
"""

from __future__ import annotations

import hashlib
import platform
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from platform_cli.errors import PlatformError

# Python versions with a Lambda runtime, and the one used when building elsewhere.
LAMBDA_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
FALLBACK_PYTHON = "3.12"
ARCHITECTURES = {"x86_64": "x86_64", "aarch64": "arm64"}
# What the Lambda runtime provides; never packaged.
PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
# flowlib's own requirements, and from the ``aws`` extra what the handler imports.
EXTRA_REQUIREMENTS = ("tenacity",)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SKIP = re.compile(r"(^|/)(__pycache__|[^/]*\.dist-info|[^/]*\.egg-info)(/|$)|\.pyc$")


@dataclass(frozen=True)
class Package:
    path: Path
    runtime: str  # python3.X
    architecture: str  # x86_64 | arm64
    sha256: str

    def tfvars(self, relative_to: Path | None = None) -> dict[str, str]:
        """Terraform variables; the path relative to Terraform's working directory when given,
        so the same string (no home folder in it) is planned from every operator's machine."""
        import os

        path = os.path.relpath(self.path, relative_to) if relative_to else str(self.path)
        return {"http_api_package_path": path, "http_api_runtime": self.runtime,
                "http_api_architecture": self.architecture}


def build_package(destination: Path) -> Package:
    """Write ``destination/flowlib-http-api.zip`` and say what it was built for."""
    import flowlib

    destination.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    source = Path(flowlib.__file__).resolve().parent
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source.parent).as_posix()
        if path.is_file() and not _SKIP.search(relative):
            files[relative] = path
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    machine = platform.machine().lower()
    with tempfile.TemporaryDirectory() as scratch:
        if sys.platform == "linux" and python in LAMBDA_PYTHONS and machine in ARCHITECTURES:
            runtime, architecture = f"python{python}", ARCHITECTURES[machine]
            files.update(_installed_files(requirements()))
        else:
            runtime, architecture = f"python{FALLBACK_PYTHON}", "x86_64"
            files.update(_downloaded_files(requirements(), Path(scratch)))
        path = destination / "flowlib-http-api.zip"
        stamp = destination / "flowlib-http-api.stamp"
        fingerprint = _fingerprint(files, runtime, architecture)
        if not (path.is_file() and stamp.is_file() and stamp.read_text() == fingerprint):
            _write_zip(path, files)
            stamp.write_text(fingerprint)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Package(path, runtime, architecture, digest)


def _fingerprint(files: dict[str, Path], runtime: str, architecture: str) -> str:
    """Names, sizes and modification times of the inputs: unchanged, the zip is reused
    (``platform`` builds before every plan, apply and status)."""
    digest = hashlib.sha256(f"{runtime} {architecture}".encode())
    for name in sorted(files):
        stat = files[name].stat()
        digest.update(f"{name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def requirements() -> list[str]:
    """Names of the distributions the handler needs (flowlib's, transitively), minus what
    the Lambda runtime provides."""
    wanted = [*_direct("flowlib-platform"), *EXTRA_REQUIREMENTS]
    seen: set[str] = set()
    while wanted:
        name = _normal(wanted.pop())
        if name in seen or name in PROVIDED:
            continue
        seen.add(name)
        try:
            wanted += _direct(name)
        except metadata.PackageNotFoundError:
            continue  # resolved by pip when downloading; reported by _installed_files
    return sorted(seen)


def _direct(name: str) -> list[str]:
    """A distribution's requirements that apply without extras, on Linux."""
    found = []
    for requirement in metadata.requires(name) or []:
        spec, _, marker = requirement.partition(";")
        if "extra" in marker or "sys_platform == \"win32\"" in marker \
                or "platform_system == \"Windows\"" in marker:
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
        if match:
            found.append(match.group(1))
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_files(names: list[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise PlatformError(
                f"The HTTP endpoint's package needs '{name}', which is not installed here.",
                hint="pip install 'flowlib-platform[platform]' in this environment, or "
                     "set enable_http_api = false") from None
        for entry in dist.files or []:
            relative = entry.as_posix()
            if relative.startswith("..") or _SKIP.search(relative) or relative.endswith(".pth"):
                continue
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                files[relative] = path
    return files


def _downloaded_files(names: list[str], scratch: Path) -> dict[str, Path]:
    target = scratch / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
               "--target", str(target), "--platform", "manylinux2014_x86_64",
               "--implementation", "cp", "--python-version", FALLBACK_PYTHON,
               "--only-binary=:all:", *names]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PlatformError(
            "Could not fetch the Linux wheels of the HTTP endpoint's package: "
            + (result.stderr.strip().splitlines() or ["pip failed"])[-1],
            hint="check access to the package index, or set enable_http_api = false")
    files = {}
    for path in sorted(target.rglob("*")):
        relative = path.relative_to(target).as_posix()
        if path.is_file() and not _SKIP.search(relative) and not relative.startswith("bin/"):
            files[relative] = path
    return files


def _write_zip(path: Path, files: dict[str, Path]) -> None:
    partial = path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name].read_bytes())
    partial.replace(path)
