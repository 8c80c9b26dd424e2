"""Blob store on the local filesystem: ``<root>/<flow>/data/<key[:2]>/<key>``.

Against garbage collection (see ``BlobStore``): a write that refreshes an old blob (``utime``)
or replaces a blob file takes a shared ``flock`` on ``data/.gc.lock``; gc's ``delete_blobs``
holds it exclusively while it checks that each blob's mtime is the one it listed and unlinks it.
So a refresh lands either before the check (the blob is spared) or after the unlink (the
refresh finds no file and the blob is written again). Fresh blobs, the common case of a
deduplicating write, take no lock.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowlib.datastore.base import BlobInfo, BlobStore, check_entry_name
from flowlib.datastore.hashing import content_key, is_content_key
from flowlib.exceptions import ArtifactError, CorruptArtifactError, NotFoundError

# Below this size a plain read is cheaper than setting up a mapping.
_MAP_FROM = 1 << 20
# A temporary blob file not written to for this long belongs to a write that was killed.
STALE_TEMP_SECONDS = 15 * 60.0


class LocalBlobStore(BlobStore):
    def __init__(self, root: str | os.PathLike, flow_name: str) -> None:
        super().__init__(flow_name)
        self.root = Path(root)
        self.data_dir = self.root / flow_name / "data"

    @property
    def root_url(self) -> str:
        return str(self.root.resolve())

    def at_root(self, root_url: str) -> BlobStore | None:
        if "://" in root_url:
            return None
        return LocalBlobStore(root_url, self.flow_name)

    def _path(self, key: str) -> Path:
        return self.data_dir / key[:2] / key

    def _entry_path(self, name: str) -> Path:
        return self.root / self.flow_name / "entries" / check_entry_name(name)

    def read_entry(self, name: str) -> bytes | None:
        try:
            return self._entry_path(name).read_bytes()
        except OSError:
            return None

    def write_entry(self, name: str, data: bytes) -> None:
        path = self._entry_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def list_entries(self, folder: str) -> list[str]:
        root = self.root / self.flow_name / "entries"
        base = root / check_entry_name(folder.rstrip("/"))
        return sorted(str(path.relative_to(root)) for path in base.rglob("*")
                      if path.is_file() and not path.name.startswith("."))

    def delete_entry(self, name: str) -> None:
        self._entry_path(name).unlink(missing_ok=True)
    @contextmanager
    def _gc_lock(self, exclusive: bool) -> Iterator[None]:
        """Writers that replace or refresh a blob share it; gc's delete holds it alone. Opened
        per use: flock belongs to the open file, which a forked task would otherwise share."""
        lock = self.data_dir / ".gc.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # no blob stored yet
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

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

    def _stored_intact(self, key: str, chunks: Sequence[Any], size: int) -> bool:
        # Size first (cheap), then the content hash: a same-size file with a flipped byte must
        # be replaced, not trusted (re-hashing costs about what the write would have).
        path = self._path(key)
        try:
            st = path.stat()
            if st.st_size != size:
                return False
            self._read_verified(key)
            if self._is_stale(st.st_mtime):
                # Old enough for gc to delete: re-stamp it first (see the module docstring).
                with self._gc_lock(exclusive=False):
                    os.utime(path)
        except (FileNotFoundError, NotFoundError, CorruptArtifactError):
            return False
        return True

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
            with self._gc_lock(exclusive=False):  # gc must not unlink the new file
                os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ArtifactError(
                    f"no space left on the disk of the datastore ({path}): free space (or set "
                    "FLOWLIB_DATASTORE_ROOT to a larger disk), then continue the run with "
                    "'resume' (finished tasks are kept)."
                ) from None
            raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def remove_stale_temp_files(self, idle_seconds: float = STALE_TEMP_SECONDS) -> int:
        """Delete temporary files of writes that were killed (kill -9, power loss) before
        their rename; a file still being written has a recent mtime and is left alone.
        Returns how many were removed."""
        removed = 0
        cutoff = time.time() - idle_seconds
        try:
            folders = list(os.scandir(self.data_dir))
        except FileNotFoundError:
            return 0
        for folder in folders:
            if not folder.is_dir():
                continue
            try:
                entries = list(os.scandir(folder.path))
            except OSError:
                continue
            for entry in entries:
                if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                    continue
                try:
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except OSError:
                    pass  # another runtime removed it first
        return removed

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

    def delete_blobs(self, blobs: Iterable[BlobInfo]) -> int:
        """Unlink each blob whose mtime is still the one listed, under the exclusive lock."""
        count = 0
        with self._gc_lock(exclusive=True):
            for blob in blobs:
                count += 1
                path = self._path(blob.key)
                try:
                    if path.stat().st_mtime > blob.modified:
                        continue  # refreshed or rewritten since it was listed
                    path.unlink()
                except FileNotFoundError:
                    pass
        return count
