"""The pair of stores a run uses: blobs (artifacts, logs) and metadata.

Backends are chosen here, once; flows, the runtime and the client only see the interfaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flowlib.datastore.artifacts import ArtifactStore
from flowlib.datastore.base import BlobStore
from flowlib.metadata.base import MetadataStore


@dataclass
class Stores:
    metadata: MetadataStore
    make_blobstore: Callable[[str], BlobStore]
    description: str
    # Environment that makes a task process on this machine open the same stores.
    task_env: dict[str, str] = field(default_factory=dict)
    _artifacts: dict[str, ArtifactStore] = field(default_factory=dict, repr=False)

    def artifacts(self, flow_name: str) -> ArtifactStore:
        store = self._artifacts.get(flow_name)
        if store is None:
            store = self._artifacts[flow_name] = ArtifactStore(self.make_blobstore(flow_name))
        return store


_opened: Stores | None = None


def open_stores() -> Stores:
    """The stores of the effective configuration (opened once per process)."""
    global _opened
    if _opened is None:
        from flowlib.config import ROOT_ENV, local_root
        from flowlib.datastore.local import LocalBlobStore
        from flowlib.metadata.sqlite import SqliteMetadataStore

        root = local_root()
        _opened = Stores(
            metadata=SqliteMetadataStore(root / "metadata.db"),
            make_blobstore=lambda flow: LocalBlobStore(root, flow),
            description=f"local folder {root}",
            task_env={ROOT_ENV: str(root)},
        )
    return _opened


def reset_stores() -> None:
    """Forget the opened stores (after the configuration changed, e.g. in tests)."""
    global _opened
    if _opened is not None:
        _opened.metadata.close()
    _opened = None
