"""What a container needs to run a task, whatever its image: the one container command.

Every backend (``--with batch``, ``--with kubernetes``, Step Functions states) starts a task
with :meth:`ContainerCode.command`: ``python -c <stage 0 loader> --store ... --package
KEY:SHA256 [--runtime KEY:SHA256:PYTHON] -- -m flowlib.remote.<entry> ...``, in a container
whose environment holds stage 0's code (:func:`stage0_environment`). Stage 0
(``flowlib.remote.stage0``, standard library only) fetches the code package, which carries
flowlib itself (``flowlib.remote.package``), and the *runtime bundle*: flowlib's own
dependencies (boto3, click, blake3, ...) installed for linux x86_64 and the image's python by
uv, stored content-addressed in the flow's datastore next to the code package, exactly like a
``@pypi`` step's bundle (``flowlib.environments.remote``). So a plain ``python:3.X-slim``
image runs a step with no package index reachable, and an image built from images/ (which has
the dependencies) skips the bundle.

The runtime bundle is resolved and built once per machine and python (kept under the
environments folder, ``runtime/``), and uploaded once per datastore (deduplicated). Without uv
on the launching machine no bundle is shipped: the image must then carry the dependencies, and
stage 0 says so in the task's log if it does not.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import sys
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from flowlib.exceptions import FlowlibError
from flowlib.remote.package import CodePackage

# The default image of a step when neither the decorator nor the profile names one: the
# official Python image (from ECR Public: no Docker Hub rate limits) of the launching python.
DEFAULT_IMAGE = "public.ecr.aws/docker/library/python:{python}-slim-bookworm"
_IMAGE_PYTHON = re.compile(r"(?:^|/)python:(\d+\.\d+)")


def current_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def default_image() -> str:
    return DEFAULT_IMAGE.format(python=current_python())


def image_python(image: str) -> str:
    """The python an image runs: from an official Python image's tag (``python:3.12-slim``),
    else this machine's (an image from images/ is built with the launching python)."""
    found = _IMAGE_PYTHON.search(image or "")
    return found.group(1) if found else current_python()


STAGE0_ENV = "FLOWLIB_STAGE0_CODE"


@lru_cache(maxsize=1)
def stage0_code() -> str:
    """Stage 0's source, compressed: the value of ``FLOWLIB_STAGE0_CODE`` in every container.

    It travels in the container's environment, not in its command: on AWS Batch the job
    definition holds it (``JobShape.register_kwargs``), because a job's overrides (command and
    environment) may not exceed 8,192 characters and these 6.7 KB would leave too little of
    them for the task's own arguments and variables. Kubernetes pods carry it in their spec."""
    source = (Path(__file__).parent / "stage0.py").read_bytes()
    return base64.b64encode(zlib.compress(source, 9)).decode()


def stage0_environment() -> dict[str, str]:
    """What a container's environment must hold for :meth:`ContainerCode.command` to run."""
    return {STAGE0_ENV: stage0_code()}


def stage0_loader() -> str:
    """``python -c`` code that runs stage 0 from ``FLOWLIB_STAGE0_CODE`` (removed from the
    environment first, so the task does not inherit it)."""
    return (f"import base64,os,zlib;"
            f"exec(zlib.decompress(base64.b64decode(os.environ.pop('{STAGE0_ENV}'))))")


@dataclass
class ContainerCode:
    """The stored code package and runtime bundles of a flow; builds container commands."""

    store: str  # s3://bucket/prefix/Flow/data (where blobs live; flowlib.datastore.s3)
    region: str
    package: CodePackage
    runtimes: dict[str, str | None] = field(default_factory=dict)  # python -> KEY:SHA:PYTHON
    _make_runtime: Callable[[str], str | None] | None = field(default=None, repr=False)

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def runtime(self, python: str) -> str | None:
        """The runtime bundle for ``python`` (built and stored on first use, once)."""
        with self._lock:
            if python not in self.runtimes:
                self.runtimes[python] = (self._make_runtime(python) if self._make_runtime
                                         else None)
            return self.runtimes[python]

    def command(self, image: str, python_args: list[str]) -> list[str]:
        """The container command that runs ``python <python_args>`` with flowlib importable."""
        runtime = self.runtime(image_python(image))
        return [
            "python", "-c", stage0_loader(), "--store", self.store, "--region", self.region,
            "--package", f"{self.package.key}:{self.package.sha256}",
            *(["--runtime", runtime] if runtime else []), "--", *python_args,
        ]


def blob_prefix(stores: Any, flow: str) -> str:
    """Where stage 0 finds the flow's blobs: ``s3://bucket/prefix/Flow/data``, or the folder
    of a local datastore (a filesystem the containers share, e.g. EFS)."""
    blobs = stores.artifacts(flow).blobs
    bucket = getattr(blobs, "bucket", None)
    if bucket is not None:
        return f"s3://{bucket}/{blobs.data_prefix}".rstrip("/")
    data_dir = getattr(blobs, "data_dir", None)
    if data_dir is None:
        raise FlowlibError(
            "Steps in containers need the S3 datastore (the container fetches the code from "
            "it): use a profile with datastore 's3' (platform init writes one).")
    return str(Path(data_dir).resolve())


def container_code(stores: Any, flow: str, package: CodePackage,
                   report: Callable[[str], None] = lambda message: None) -> ContainerCode:
    """The ``ContainerCode`` of an uploaded package; runtime bundles are built on first use."""
    region = stores.profile["region"] if stores.profile is not None else ""
    return ContainerCode(
        blob_prefix(stores, flow), region or "us-east-1", package,
        _make_runtime=lambda python: runtime_bundle(stores, flow, python, report))


def runtime_bundle(stores: Any, flow: str, python: str,
                   report: Callable[[str], None]) -> str | None:
    """``KEY:SHA256:PYTHON`` of the runtime bundle for ``python`` in ``flow``'s datastore
    (built on this machine at most once per python; None without uv)."""
    from flowlib.environments.prepare import environments_folder
    from flowlib.environments.spec import (
        CONTAINER_PLATFORM,
        FLOWLIB_AWS_REQUIREMENTS,
        FLOWLIB_REQUIREMENTS,
        EnvironmentSpec,
    )

    spec = EnvironmentSpec((), python, CONTAINER_PLATFORM,
                           FLOWLIB_REQUIREMENTS + FLOWLIB_AWS_REQUIREMENTS)
    folder = environments_folder(stores.task_env) / "runtime"
    tar, entry_file = folder / f"{spec.key}.tar.gz", folder / f"{spec.key}.json"
    blobs = stores.artifacts(flow).blobs
    try:
        entry = json.loads(entry_file.read_text())
        data = tar.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ValueError("damaged")
    except (OSError, ValueError, KeyError):
        data = _build_runtime(spec, blobs, folder, report)
        if data is None:
            return None
    key = blobs.put([data])
    return f"{key}:{hashlib.sha256(data).hexdigest()}:{python}"


def _build_runtime(spec: Any, blobs: Any, folder: Path,
                   report: Callable[[str], None]) -> bytes | None:
    import fcntl

    try:
        from uv import find_uv_bin  # noqa: F401 - only asks whether uv is installed
    except ImportError:
        report("uv is not installed here (pip install uv): the run ships no dependencies for "
               "flowlib, so the image must have them (images/).")
        return None
    from flowlib.environments.prepare import resolve_locks
    from flowlib.environments.remote import build_bundle

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{spec.key}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        report(f"Building flowlib's runtime for python {spec.python} containers...")
        lock = resolve_locks({"(flowlib runtime)": spec}, blobs, folder.parent, report)[spec.key]
        # gzip (mtime 0: the same bytes every time): 52 MiB of tar is 23 MiB to download.
        data = gzip.compress(build_bundle(lock), compresslevel=6, mtime=0)
        tar = folder / f"{spec.key}.tar.gz"
        part = tar.with_name(f".{tar.name}.{os.getpid()}.tmp")
        part.write_bytes(data)
        os.replace(part, tar)
        (folder / f"{spec.key}.json").write_text(json.dumps(
            {"sha256": hashlib.sha256(data).hexdigest(), "environment": spec.describe()}))
    return data
