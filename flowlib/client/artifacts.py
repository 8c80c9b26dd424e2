"""Artifacts in the client: ``DataArtifact`` (one stored value, loaded on ``.data``) and the
attribute views ``task.artifacts`` and ``task.data``; and where a run's artifacts are stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flowlib.client.metaflow_names import ArtifactNames
from flowlib.datastore.artifacts import ArtifactRef, ArtifactStore
from flowlib.metadata.records import DATASTORE_TAG
from flowlib.stores import Stores, open_stores

if TYPE_CHECKING:
    from flowlib.client.objects import Task


def client_stores() -> Stores:
    return open_stores()


def run_artifact_store(flow: str, run_id: str) -> ArtifactStore:
    """The artifact store holding a run's artifacts and logs: where the run recorded it wrote
    them (a ``datastore:`` system tag), which may differ from the profile's current bucket,
    prefix or folder; the profile's store for runs that recorded nothing."""
    stores = client_stores()
    current = stores.artifacts(flow)
    key = (id(stores), flow, run_id)
    if key not in _RUN_STORES:
        record = stores.metadata.get_run(flow, run_id)
        tag = next((t for t in (record.system_tags if record else [])
                    if t.startswith(DATASTORE_TAG)), None)
        root = tag[len(DATASTORE_TAG):] if tag else ""
        store = None
        if root and root != current.blobs.root_url:
            blobs = current.blobs.at_root(root)
            store = ArtifactStore(blobs) if blobs is not None else None
        _RUN_STORES[key] = store
    return _RUN_STORES[key] or current


_RUN_STORES: dict[tuple[int, str, str], ArtifactStore | None] = {}


class DataArtifact(ArtifactNames):
    """One artifact: name, type, stored size, content key, and ``.data`` (loaded on access)."""

    def __init__(self, task: Task, name: str, ref: ArtifactRef) -> None:
        self.id = name
        self.pathspec = f"{task.pathspec}/{name}"
        self._task = task
        self._ref = ref

    @property
    def data(self) -> Any:
        record = self._task._record
        store = run_artifact_store(record.flow, record.run_id)
        return store.load(self._ref, self.id, self._task.pathspec)

    @property
    def sha(self) -> str:
        return self._ref.key

    @property
    def size(self) -> int:
        return self._ref.size

    @property
    def type(self) -> str:
        return self._ref.type

    @property
    def encoding(self) -> str:
        return self._ref.encoding

    @property
    def location(self) -> str:
        """Where the stored bytes are (a path or s3:// URL); a plain Parquet file for
        DataFrames, which any Parquet reader opens."""
        record = self._task._record
        return run_artifact_store(record.flow, record.run_id).blobs.location(self._ref.key)

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}', type={self.type}, size={self.size})"


class TaskArtifacts:
    """``task.artifacts.x``: DataArtifact objects by attribute; iterable."""

    def __init__(self, task: Task) -> None:
        object.__setattr__(self, "_task", task)

    def _get(self, artifact: DataArtifact) -> Any:
        return artifact

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._get(self._task[name])
        except KeyError as exc:
            raise AttributeError(str(exc)) from None

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self._task)

    def __contains__(self, name: object) -> bool:
        return name in self._task

    def __dir__(self) -> list[str]:
        return sorted(self._task._refs)


class TaskData(TaskArtifacts):
    """``task.data.x``: artifact values by attribute (loaded on access)."""

    def _get(self, artifact: DataArtifact) -> Any:
        return artifact.data

    def __repr__(self) -> str:
        return f"<data of {self._task.pathspec}: {', '.join(sorted(self._task._refs))}>"
