"""Environments for steps in containers (AWS Batch): a bundle built here, installed there.

On the launching machine the environment is resolved for the container's platform (linux
x86_64, the step's python: ``spec.container_environment``), its exact distributions are
installed by uv into a folder for that platform, and the folder goes to the flow's datastore as
one deterministic tar blob (content-addressed, verified on read), next to the code package. The
container fetches the blob and unpacks it onto ``PYTHONPATH``: no package index, no pip, no uv,
no compiler is needed there, and the task imports exactly the versions locked here. A bundle is
built once per environment (index ``bundles/<key>.json`` in the environments folder) and
unpacked once per host folder, where it is pruned when unused (``host_cache``).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowlib.environments import host_cache
from flowlib.environments.locks import Lock, entry_name
from flowlib.environments.record import RECORD_FILE
from flowlib.exceptions import FlowlibError

BUNDLES_DIR_ENV = "FLOWLIB_ENVIRONMENTS_DIR"
# Set by the container's bootstrap: the record of the environment the task runs in.
RECORD_ENV = "FLOWLIB_ENVIRONMENT_RECORD"


@dataclass(frozen=True)
class Bundle:
    """A bundle stored in the datastore: its blob key and the SHA-256 of its bytes (what a
    container that cannot compute flowlib's BLAKE3 keys checks, ``flowlib.remote.stage0``)."""

    key: str
    sha256: str


def ensure_bundle(lock: Lock, blobs: Any, folder: Path, report: Callable[[str], None]) -> Bundle:
    """``lock``'s bundle in the datastore, building and storing it first if needed."""
    key = lock.spec.key
    index = folder / "bundles" / f"{key}.json"
    found = _indexed(index, blobs, lock.spec)
    if found:
        return found
    index.parent.mkdir(parents=True, exist_ok=True)
    with open(index.with_suffix(".lock"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        found = _indexed(index, blobs, lock.spec)
        if found:
            return found
        report(
            f"Building container environment {key[:12]} (python {lock.spec.python}, "
            f"{lock.spec.platform}, {len(lock.pins)} packages)..."
        )
        data = build_bundle(lock)
        bundle = Bundle(blobs.put([data]), hashlib.sha256(data).hexdigest())
        text = json.dumps({"bundle_key": bundle.key, "sha256": bundle.sha256,
                           "environment": lock.spec.describe()})
        _write_index(index, text)
        blobs.write_entry(entry_name("bundles", lock.spec), text.encode())
    return bundle


def build_bundle(lock: Lock) -> bytes:
    """The bundle of ``lock``: its distributions installed for the lock's platform and python
    (uv, from the package index or uv's cache), as one deterministic tar."""
    from flowlib.environments import uv

    tmp = Path(tempfile.mkdtemp(prefix=f"flowlib-bundle-{lock.spec.key[:12]}-"))
    try:
        uv.install_target(lock.text, lock.spec.python, lock.spec.platform, tmp / "site")
        record = {**lock.spec.describe(), "lock": lock.blob_key, "packages": lock.pins}
        (tmp / "site" / RECORD_FILE).write_text(json.dumps(record, indent=1, sort_keys=True))
        return _deterministic_tar(tmp / "site")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _indexed(index: Path, blobs: Any, spec: Any) -> Bundle | None:
    """The bundle of this machine's index, else of the datastore's (another machine built it;
    then remembered here), if its blob is still stored."""
    for source in ("here", "datastore"):
        try:
            if source == "here":
                text = index.read_text()
            else:
                text = (blobs.read_entry(entry_name("bundles", spec)) or b"").decode()
            entry = json.loads(text)
            bundle = Bundle(entry["bundle_key"], entry["sha256"])
        except (OSError, ValueError, KeyError, TypeError, FlowlibError):
            continue
        # An index may outlive the datastore it was written for (another profile or bucket).
        if _blob_exists(blobs, bundle.key):
            if source == "datastore":
                _write_index(index, text)
            return bundle
    return None


def _write_index(index: Path, text: str) -> None:
    index.parent.mkdir(parents=True, exist_ok=True)
    part = index.with_name(f".{index.name}.{os.getpid()}.tmp")
    part.write_text(text)
    os.replace(part, index)


def _blob_exists(blobs: Any, key: str) -> bool:
    try:
        blobs.get(key)
    except FlowlibError:
        return False
    return True


def _deterministic_tar(root: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
            if not path.is_file() or path.is_symlink():
                continue
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack_bundle(blobs: Any, bundle_key: str) -> tuple[Path, dict[str, Any]]:
    """In the container: the unpacked bundle (put it on ``PYTHONPATH``) and its record. The
    bundle is unpacked once per host folder and held by this task until it ends
    (``flowlib.environments.host_cache``, which also prunes the folder).

    Raises FlowlibError when this interpreter is not the python the bundle was built for."""
    shared = os.environ.get(BUNDLES_DIR_ENV)  # else the container's own /tmp: nothing to prune
    base = shared or str(Path(tempfile.gettempdir()) / "flowlib-env")
    try:
        final = Path(host_cache.use(base, bundle_key, lambda: bytes(blobs.get(bundle_key)),
                                    pruning=bool(shared)))
    except host_cache.HostCacheError as exc:
        raise FlowlibError(str(exc)) from None
    except OSError as exc:  # e.g. the host's disk is full
        raise FlowlibError(f"cannot unpack environment bundle {bundle_key} into {base}: "
                           f"{exc}") from None
    record = json.loads((final / RECORD_FILE).read_text())
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not here.startswith(record["python"]) and not record["python"].startswith(here):
        raise FlowlibError(
            f"the step's environment was built for python {record['python']} but this image "
            f"runs python {here}; set python='{here}' in the step's @pypi/@conda, or use an "
            f"image with python {record['python']}."
        )
    return final, record
