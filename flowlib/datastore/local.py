"""Blob store on the local filesystem: ``<root>/<flow>/data/<key[:2]>/<key>``."""

from __future__ import annotations

import mmap
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowlib.datastore.base import BlobStore
from flowlib.datastore.hashing import content_key
from flowlib.exceptions import ArtifactError, CorruptArtifactError, NotFoundError

# Below this size a plain read is cheaper than setting up a mapping.
_MAP_FROM = 1 << 20


class LocalBlobStore(BlobStore):
    def __init__(self, root: str | os.PathLike, flow_name: str) -> None:
        super().__init__(flow_name)
        self.root = Path(root)
        self.data_dir = self.root / flow_name / "data"

    def _path(self, key: str) -> Path:
        return self.data_dir / key[:2] / key

    def location(self, key: str) -> str:
        return str(self._path(key))

    def preflight(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(
                f"Cannot create the local datastore folder {self.root}: {exc}. Set "
                "FLOWLIB_DATASTORE_ROOT (or the profile's datastore_root) to a writable folder."
            ) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise ArtifactError(
                f"The local datastore folder {self.root} is not writable. Fix its permissions "
                "or set FLOWLIB_DATASTORE_ROOT (or the profile's datastore_root) to another."
            )

    def _exists_with_size(self, key: str, size: int) -> bool:
        try:
            return self._path(key).stat().st_size == size
        except FileNotFoundError:
            return False

    def _write(self, key: str, chunks: Sequence[Any], size: int) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # No fsync: a process crash cannot expose a partial blob (rename is atomic), and after
        # a power loss a damaged blob fails verification on read instead of being returned.
        tmp = path.with_name(f".{key}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _read_verified(self, key: str) -> memoryview:
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < _MAP_FROM:
                    buffer = bytearray(size)  # writable: arrays built on it stay writable
                    handle.readinto(buffer)
                    data = memoryview(buffer)
                else:
                    # A private copy-on-write mapping: no copy out of the page cache, and the
                    # objects built on it (numpy arrays) stay writable without touching the file.
                    # No MAP_POPULATE: it made the kernel copy every page up front (0.4 s per
                    # GiB measured); hashing faults the pages in far more cheaply.
                    flags = mmap.MAP_PRIVATE
                    data = memoryview(
                        mmap.mmap(
                            handle.fileno(),
                            size,
                            flags=flags,
                            prot=mmap.PROT_READ | mmap.PROT_WRITE,
                        )
                    )
        except FileNotFoundError:
            raise NotFoundError(
                f"object {key} is missing from the datastore at {path}; it may have been deleted."
            ) from None
        if content_key([data]) != key:
            raise CorruptArtifactError(
                f"object {key} at {path} is corrupted (content hash differs)"
            )
        return data
