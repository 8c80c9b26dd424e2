"""Blob store on the local filesystem: ``<root>/<flow>/data/<key[:2]>/<key>``."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from flowlib.datastore.base import BlobInfo, BlobStore
from flowlib.datastore.hashing import content_key, is_content_key
from flowlib.exceptions import CorruptArtifactError, NotFoundError

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

    def list_blobs(self) -> Iterator[BlobInfo]:
        try:
            shards = list(os.scandir(self.data_dir))
        except FileNotFoundError:
            return
        for shard in shards:
            if not shard.is_dir():
                continue
            for entry in os.scandir(shard.path):
                # Temporary files of writes in progress start with '.': never listed.
                if not is_content_key(entry.name):
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:  # deleted meanwhile (another collector)
                    continue
                yield BlobInfo(entry.name, st.st_size, st.st_mtime)

    def delete_blobs(self, keys: Iterable[str]) -> int:
        count = 0
        for key in keys:
            self._path(key).unlink(missing_ok=True)
            count += 1
        return count
