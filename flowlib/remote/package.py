"""The flow's code as a deterministic, content-addressed package.

The flow's folder (Python files, plus files matching extra suffixes) and flowlib's own package
(under ``.flowlib-lib/``, as Metaflow ships itself: any image with a compatible Python runs the
task, whatever flowlib it has or lacks; ``flowlib.remote.stage0``) go into a tar archive
with fixed metadata (sorted names, mtime 0, uid/gid 0, normalised modes), so the same content
always gives the same bytes and therefore the same key: it is uploaded once per distinct code
version and shared by every task of every run that uses it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flowlib.exceptions import FlowlibError
from flowlib.stores import Stores
from flowlib.version import __version__

MANIFEST = ".flowlib-package.json"
LIB_DIR = ".flowlib-lib"  # flowlib.remote.stage0.LIB_DIR
CODE_DIR_ENV = "FLOWLIB_CODE_DIR"  # flowlib.remote.stage0.CODE_DIR_ENV
FLOWLIB_PACKAGE = Path(__file__).resolve().parent.parent
MAX_PACKAGE_BYTES = 64 << 20
_SKIP_DIRS = {".flowlib", ".git", "__pycache__", ".venv", "node_modules", ".terraform"}


@dataclass(frozen=True)
class CodePackage:
    key: str
    script: str  # the flow file, relative to the package root
    size: int
    flowlib_version: str
    sha256: str = ""  # of the bytes: what a container checks before flowlib can be imported


def collect_files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".venv"))
        for name in files:
            if name.endswith(suffixes):
                found.append(Path(folder) / name)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def build_package(flow_file: Path, suffixes: tuple[str, ...] = (".py",)) -> tuple[bytes, str]:
    """The package bytes and the flow file's path inside it."""
    flow_file = flow_file.resolve()
    root = flow_file.parent
    script = flow_file.relative_to(root).as_posix()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        manifest = json.dumps(
            {"flowlib_version": __version__, "script": script}, sort_keys=True
        ).encode()
        _add(tar, MANIFEST, manifest, 0o644)
        for path in collect_files(root, suffixes):
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            _add(tar, path.relative_to(root).as_posix(), path.read_bytes(), mode)
            _check_size(buffer, flow_file, root)
        for path in flowlib_files():
            relative = path.relative_to(FLOWLIB_PACKAGE.parent).as_posix()
            _add(tar, f"{LIB_DIR}/{relative}", path.read_bytes(), 0o644)
    return buffer.getvalue(), script


def _check_size(buffer: io.BytesIO, flow_file: Path, root: Path) -> None:
    if buffer.tell() > MAX_PACKAGE_BYTES:
        raise FlowlibError(
            f"The code package of {flow_file.name} is over {MAX_PACKAGE_BYTES >> 20} MiB "
            f"(folder {root}). Keep data out of the flow's folder, or store it as an "
            "artifact or IncludeFile."
        )


def flowlib_files() -> list[Path]:
    """flowlib's package as installed here: every file but bytecode caches."""
    found = []
    for folder, dirs, files in os.walk(FLOWLIB_PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found.extend(Path(folder) / name for name in files if not name.endswith((".pyc", ".pyo")))
    return sorted(found, key=lambda p: p.relative_to(FLOWLIB_PACKAGE).as_posix())


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def upload_package(
    stores: Stores, flow_name: str, flow_file: Path, suffixes: tuple[str, ...] = (".py",)
) -> CodePackage:
    """Build and store the package (a no-op upload when this exact code is already stored)."""
    data, script = build_package(flow_file, suffixes)
    key = stores.artifacts(flow_name).put_bytes(data)
    return CodePackage(key, script, len(data), __version__, hashlib.sha256(data).hexdigest())


def unpacked_package(stores: Stores, flow_name: str, key: str) -> tuple[Path, dict]:
    """The folder of package ``key`` and its manifest: the one stage 0 unpacked
    (``FLOWLIB_CODE_DIR``), else a new temporary folder it is fetched into."""
    import tempfile

    given = os.environ.get(CODE_DIR_ENV)
    if given and (Path(given) / MANIFEST).is_file():
        return Path(given), json.loads((Path(given) / MANIFEST).read_text())
    workdir = Path(tempfile.mkdtemp(prefix="flowlib-task-"))
    return workdir, unpack_package(stores, flow_name, key, workdir)


def unpack_package(stores: Stores, flow_name: str, key: str, dest: Path) -> dict:
    """Fetch (verified), unpack into ``dest`` and return the package manifest."""
    data = stores.artifacts(flow_name).get_bytes(key)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        for member in tar.getmembers():
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts or not member.isfile():
                raise FlowlibError(f"Code package {key} holds an unsafe entry: {member.name!r}.")
        tar.extractall(dest)  # noqa: S202 - every member was checked above
    return json.loads((dest / MANIFEST).read_text())
