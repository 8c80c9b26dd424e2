"""One lock per distinct environment, kept in the datastore.

The lock text (``uv pip compile`` output: every distribution pinned, with file hashes) is a
blob of the flow's blob store, under its content key, so it is verified on every read and
shared by every run that reaches the store. A small index maps an environment's key (the hash
of its inputs, ``EnvironmentSpec.key``) to that blob, kept twice: in the environments folder
of this machine (no request at all on a warm start) and as an entry of the datastore
(``<flow>/entries/environments/locks/<key>.json``, ``BlobStore.write_entry``), so any other
machine or container reaching the store finds the lock too. An environment is resolved once
per store, and later runs read the same lock instead of resolving again (new releases on the
index do not change an environment that was already locked; delete the index entries or
change the inputs to re-resolve).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowlib.datastore.base import BlobStore
from flowlib.environments.spec import EnvironmentSpec
from flowlib.exceptions import FlowlibError


@dataclass(frozen=True)
class Lock:
    spec: EnvironmentSpec
    text: str
    blob_key: str

    @property
    def pins(self) -> dict[str, str]:
        """name -> exact version of every distribution in the lock."""
        pins = {}
        for line in self.text.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "-")) or "==" not in line:
                continue
            name, _, rest = line.partition("==")
            pins[name.strip()] = rest.split()[0].rstrip("\\").strip().split(";")[0]
        return pins


class LockIndex:
    """``<folder>/locks/<environment key>.json`` -> the lock's blob key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "locks"

    def _path(self, spec: EnvironmentSpec) -> Path:
        return self.folder / f"{spec.key}.json"

    def find(self, spec: EnvironmentSpec, blobs: BlobStore) -> Lock | None:
        """The lock of ``spec``: this machine's index, else the datastore's (then remembered
        here); None when neither has one whose blob is still stored."""
        path = self._path(spec)
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            entry = None
        found = self._read(entry, spec, blobs)
        if found is None:
            try:
                shared = json.loads(blobs.read_entry(entry_name("locks", spec)) or b"null")
            except (ValueError, FlowlibError):
                shared = None
            found = self._read(shared, spec, blobs)
            if found is not None:
                self._remember(spec, found.blob_key)
        return found

    def _read(self, entry: Any, spec: EnvironmentSpec, blobs: BlobStore) -> Lock | None:
        try:
            text = bytes(blobs.get(entry["lock_key"])).decode()
        except (TypeError, ValueError, KeyError, FlowlibError):
            return None  # missing, damaged or the blob is gone: resolve again
        return Lock(spec, text, entry["lock_key"])

    def store(self, spec: EnvironmentSpec, text: str, blobs: BlobStore) -> Lock:
        key = blobs.put([text.encode()])
        entry = self._remember(spec, key)
        blobs.write_entry(entry_name("locks", spec), entry.encode())
        return Lock(spec, text, key)

    def _remember(self, spec: EnvironmentSpec, lock_key: str) -> str:
        entry = json.dumps({"lock_key": lock_key, "environment": spec.describe()}, indent=1)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(spec)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(entry)
        os.replace(tmp, path)
        return entry


def entry_name(kind: str, spec: EnvironmentSpec) -> str:
    """The datastore entry of an environment's lock (``locks``) or container bundle
    (``bundles``)."""
    return f"environments/{kind}/{spec.key}.json"
