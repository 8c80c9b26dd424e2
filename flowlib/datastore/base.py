"""The blob store interface every datastore backend implements.

A blob store keeps immutable byte objects under their content key (see ``hashing``), one
namespace per flow. Writes are atomic from a reader's view and idempotent: a blob that exists is
never uploaded again. Reads are verified against the key, so corruption is reported, never
returned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flowlib.datastore.hashing import content_key


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob as a listing sees it (for garbage collection)."""

    key: str
    size: int
    modified: float  # epoch seconds of the last write


class BlobStore(ABC):
    """Content-addressed blobs of one flow."""

    def __init__(self, flow_name: str) -> None:
        self.flow_name = flow_name

    def put(self, chunks: Sequence[Any], key: str | None = None) -> str:
        """Store the concatenation of ``chunks`` and return its key."""
        key = key or content_key(chunks)
        size = sum(memoryview(c).nbytes for c in chunks)
        if not self._exists_with_size(key, size):
            self._write(key, chunks, size)
        return key

    def get(self, key: str) -> memoryview:
        """The verified bytes of ``key``; raises CorruptArtifactError or NotFoundError."""
        return self._read_verified(key)

    @abstractmethod
    def _exists_with_size(self, key: str, size: int) -> bool:
        """True if a complete blob of this key and size is stored."""

    @abstractmethod
    def _write(self, key: str, chunks: Sequence[Any], size: int) -> None:
        """Store atomically: no reader may ever see part of the blob."""

    @abstractmethod
    def _read_verified(self, key: str) -> memoryview:
        """Read the blob and check it hashes to ``key``."""

    @abstractmethod
    def location(self, key: str) -> str:
        """Where the blob lives (a path or URL), for users and other tools."""

    # -- retention (flowlib.retention): listing and deleting ------------------------------------
    def list_blobs(self) -> Iterator[BlobInfo]:
        """Every complete blob of this flow with its size and last-write time (any order).

        Temporary files of writes in progress and foreign objects are never listed."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its blobs")

    def delete_blobs(self, keys: Iterable[str]) -> int:
        """Delete these blobs (absent ones are not an error: deletes are idempotent, so two
        collectors or a re-run never fail on each other). Returns how many were requested."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete blobs")
