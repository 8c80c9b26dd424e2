"""The blob store interface every datastore backend implements.

A blob store keeps immutable byte objects under their content key (see ``hashing``), one
namespace per flow. Writes are atomic from a reader's view and idempotent: a blob that is stored
intact is never uploaded again. Reads are verified against the key, so corruption is reported,
never returned.

Deduplication never trusts an old blob without refreshing it: garbage collection
(``flowlib.retention``) may delete a blob no kept run references once it is older than the grace
period, so ``put`` re-stamps a blob last written more than ``refresh_after`` seconds ago before
counting it as stored, and ``delete_blobs`` deletes a blob only if it is unchanged since gc
listed it. Either the refresh comes first (the delete then spares the blob) or the delete does
(the refresh then finds nothing and ``put`` writes the blob again): no interleaving loses it.

Deduplication never trusts what it cannot verify: ``put`` counts a blob as stored only when the
backend proves the stored bytes are the ones being written (the local store re-hashes the file,
S3 compares the SHA-256 checksum it verified on upload). A damaged or foreign object under the
key is replaced, so the next write of the right content heals it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flowlib.datastore.hashing import content_key
from flowlib.exceptions import ArtifactError

_ENTRY_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")


HOLDS = "holds/"


def _hold_name(holder: str) -> str:
    """Holders are free text (``stepfunctions/ci-TrainFlow``); entry names are not."""
    readable = re.sub(r"[^a-z0-9._-]+", "-", holder.lower()).strip("-.")[:60] or "hold"
    return f"{HOLDS}{readable}-{hashlib.sha256(holder.encode()).hexdigest()[:12]}.json"


def check_entry_name(name: str) -> str:
    if not _ENTRY_NAME.match(name) or ".." in name:
        raise ValueError(f"not an entry name: {name!r}")
    return name
# Half the default retention grace period (7 days): see ``BlobStore.refresh_after``.
DEFAULT_REFRESH_AFTER = 84 * 3600.0


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob as a listing sees it (for garbage collection)."""

    key: str
    size: int
    modified: float  # epoch seconds of the last write (or refresh)
    # The stored versions the listing saw (S3 version ids, newest first; empty where the
    # backend has none): a delete removes exactly these, never a version written later.
    versions: tuple[str, ...] = ()


class BlobStore(ABC):
    """Content-addressed blobs of one flow."""

    # A stored blob last written longer ago than this is refreshed before a write trusts it
    # (``stores_for`` sets half the profile's ``retention_grace_hours``); None never refreshes.
    refresh_after: float | None = DEFAULT_REFRESH_AFTER

    def __init__(self, flow_name: str) -> None:
        self.flow_name = flow_name

    def put(self, chunks: Sequence[Any], key: str | None = None) -> str:
        """Store the concatenation of ``chunks`` and return its key."""
        key = key or content_key(chunks)
        size = sum(memoryview(c).nbytes for c in chunks)
        if not self._stored_intact(key, chunks, size):
            self._write(key, chunks, size)
        return key

    def _is_stale(self, modified: float) -> bool:
        """True if a blob last written at ``modified`` must be refreshed before it is trusted."""
        return self.refresh_after is not None and modified < time.time() - self.refresh_after

    def get(self, key: str) -> memoryview:
        """The verified bytes of ``key``; raises CorruptArtifactError or NotFoundError."""
        return self._read_verified(key)

    @abstractmethod
    def _stored_intact(self, key: str, chunks: Sequence[Any], size: int) -> bool:
        """True only if the blob stored under ``key`` provably holds exactly ``chunks``.

        A missing, truncated, damaged or unverifiable object answers False (and is then
        overwritten by ``_write``); an error reaching the store raises.
        """

    @abstractmethod
    def _write(self, key: str, chunks: Sequence[Any], size: int) -> None:
        """Store atomically: no reader may ever see part of the blob."""

    @abstractmethod
    def _read_verified(self, key: str) -> memoryview:
        """Read the blob and check it hashes to ``key``."""

    @property
    def root_url(self) -> str:
        """Where this store keeps every flow's blobs (recorded with each run, so its artifacts
        stay readable after the profile's bucket, prefix or folder changes)."""
        return ""

    def at_root(self, root_url: str) -> BlobStore | None:
        """The same kind of store, same flow, rooted at ``root_url`` (None if this backend
        cannot reach it)."""
        return None

    def remove_stale_temp_files(self) -> int:
        """Remove leftovers of writes killed mid-way (a backend with none returns 0)."""
        return 0

    @abstractmethod
    def location(self, key: str) -> str:
        """Where the blob lives (a path or URL), for users and other tools."""

    def preflight(self) -> None:  # noqa: B027 - a backend with nothing to check keeps it
        """Check, before a run writes anything, that the store exists and this process may
        write to it; raise a FlowlibError saying what is wrong and how to fix it."""

    # -- small named entries beside the blobs (flowlib.environments: which lock or bundle an
    # environment has, found by any machine that reaches the store) ---------------------------
    def read_entry(self, name: str) -> bytes | None:
        """The bytes of the entry ``name`` of this flow, None when there is none (or this
        backend keeps none). Entries are small, replaced whole (a reader sees the old or the
        new bytes), never listed as blobs, and only ever point at blobs: losing one costs a
        recomputation, never data."""
        return None

    def write_entry(self, name: str, data: bytes) -> None:  # noqa: B027 - optional hook
        """Store ``data`` as the entry ``name`` (``[a-z0-9/._-]``), replacing any."""

    def list_entries(self, folder: str) -> list[str]:
        """Names of this flow's entries under ``folder`` (``holds/``), in name order."""
        return []

    def delete_entry(self, name: str) -> None:  # noqa: B027 - optional hook
        """Remove the entry ``name``; an absent one is not an error."""

    # -- holds: blobs kept whatever the retention policy says ----------------------------------
    # A deployed flow (``step-functions create``) runs its code package, parameter defaults and
    # bundles for as long as it stays deployed, however old they are and whether or not a kept
    # run references them; gc adds every held key to its live set. A hold is an entry (unlike
    # other entries, losing one lets gc collect what it held), replaced whole on each create.
    def hold(self, holder: str, keys: Iterable[str]) -> None:
        """Keep ``keys`` from gc until ``release(holder)`` (replaces ``holder``'s hold)."""
        record = {"holder": holder, "keys": sorted(set(keys)), "at": time.time()}
        self.write_entry(_hold_name(holder), json.dumps(record, sort_keys=True).encode())

    def release(self, holder: str) -> None:
        """Drop ``holder``'s hold (none: nothing to do)."""
        self.delete_entry(_hold_name(holder))

    def held_keys(self) -> set[str]:
        """Every key a hold of this flow keeps. An unreadable hold stops gc (it cannot tell
        what the hold protects) rather than being skipped."""
        keys: set[str] = set()
        for name in self.list_entries(HOLDS):
            raw = self.read_entry(name)
            if raw is None:  # released between the listing and the read
                continue
            try:
                keys.update(json.loads(raw)["keys"])
            except (ValueError, KeyError, TypeError):
                raise ArtifactError(
                    f"the hold {name} of flow {self.flow_name} is unreadable, so gc cannot tell "
                    "which blobs it keeps: re-run 'step-functions create' of that deployment "
                    "(or delete the entry if the deployment is gone), then gc again.") from None
        return keys

    # -- retention (flowlib.retention): listing and deleting ------------------------------------
    def list_blobs(self) -> Iterator[BlobInfo]:
        """Every complete blob of this flow with its size and last-write time (any order).

        Temporary files of writes in progress and foreign objects are never listed."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its blobs")

    def delete_blobs(self, blobs: Iterable[BlobInfo]) -> int:
        """Delete these blobs, as ``list_blobs`` listed them: a blob written or refreshed since
        (a ``put`` deduplicating against it) is spared, atomically with respect to that write.
        Absent ones are not an error (deletes are idempotent, so two collectors or a re-run
        never fail on each other). Returns how many were requested."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete blobs")
