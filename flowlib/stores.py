"""The pair of stores a run uses: blobs (artifacts, logs) and metadata.

Backends are chosen here, once, from the effective config profile (``flowlib.config``), by
looking the profile's ``datastore`` and ``metadata`` values up in two tables (``DATASTORES``,
``METADATA``); flows, the runtime and the client only see the interfaces. A new store backend
is one module plus one entry. The local profile needs no setup and imports nothing from AWS;
boto3 is imported only when the profile uses S3 or DynamoDB.

``Stores.preflight`` checks both stores, whatever their mix (S3 with SQLite, a local folder with
DynamoDB...), before a run or a resume writes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowlib.datastore.artifacts import ArtifactStore
from flowlib.datastore.base import BlobStore
from flowlib.metadata.base import MetadataStore

if TYPE_CHECKING:
    from flowlib.config import Profile


@dataclass
class Stores:
    metadata: MetadataStore
    make_blobstore: Callable[[str], BlobStore]
    description: str
    # Environment that makes a task process (on this machine or in a container) open the same
    # stores.
    task_env: dict[str, str] = field(default_factory=dict)
    _artifacts: dict[str, ArtifactStore] = field(default_factory=dict, repr=False)
    profile: Profile | None = field(default=None, repr=False)

    def artifacts(self, flow_name: str) -> ArtifactStore:
        store = self._artifacts.get(flow_name)
        if store is None:
            store = self._artifacts[flow_name] = ArtifactStore(self.make_blobstore(flow_name))
        return store

    def preflight(self, flow_name: str) -> None:
        """Check the blob store, then the metadata store: reachable, present, usable. Raises
        the store's FlowlibError (bucket or table missing, access denied, wrong region...)."""
        self.artifacts(flow_name).blobs.preflight()
        self.metadata.preflight()


class _Opening:
    """What the table entries share while opening one profile's stores: the local folder and
    the AWS context, each made at most once and only if an entry asks for it."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    @cached_property
    def root(self) -> Path:
        from flowlib.config import local_root

        explicit = self.profile["datastore_root"]
        return Path(explicit).expanduser().resolve() if explicit else local_root()

    @cached_property
    def aws(self) -> Any:
        from flowlib.config.aws import AwsContext

        return AwsContext(self.profile)


def _local_blobs(o: _Opening) -> tuple[Callable[[str], BlobStore], str]:
    from flowlib.datastore.local import LocalBlobStore

    root = o.root
    return (lambda flow: LocalBlobStore(root, flow)), f"local folder {root}"


def _s3_blobs(o: _Opening) -> tuple[Callable[[str], BlobStore], str]:
    from flowlib.datastore.s3 import S3BlobStore

    aws, bucket, prefix = o.aws, o.profile["s3_bucket"], o.profile["s3_prefix"] or ""
    return (lambda flow: S3BlobStore(aws, bucket, prefix, flow)), (
        f"s3://{bucket}/{prefix}".rstrip("/")
    )


def _sqlite_metadata(o: _Opening) -> tuple[MetadataStore, str]:
    from flowlib.metadata.sqlite import SqliteMetadataStore

    return SqliteMetadataStore(o.root / "metadata.db"), f"metadata {o.root / 'metadata.db'}"


def _dynamodb_metadata(o: _Opening) -> tuple[MetadataStore, str]:
    from flowlib.metadata.dynamodb import DynamoDBMetadataStore

    table = o.profile["dynamodb_table"]
    return DynamoDBMetadataStore(o.aws, table), f"DynamoDB table {table}"


# The profile's ``datastore`` / ``metadata`` value -> how to open that store.
DATASTORES: dict[str, Callable[[_Opening], tuple[Callable[[str], BlobStore], str]]] = {
    "local": _local_blobs,
    "s3": _s3_blobs,
}
METADATA: dict[str, Callable[[_Opening], tuple[MetadataStore, str]]] = {
    "local": _sqlite_metadata,
    "dynamodb": _dynamodb_metadata,
}


_opened: Stores | None = None


def open_stores() -> Stores:
    """The stores of the effective configuration (opened once per process)."""
    global _opened
    if _opened is None:
        from flowlib.config import effective_profile

        _opened = stores_for(effective_profile())
    return _opened


def _refreshing(profile: Profile, make: Callable[[str], BlobStore], text: str
                ) -> tuple[Callable[[str], BlobStore], str]:
    """Blob stores that refresh a blob older than half the profile's retention grace period
    before deduplicating against it (``BlobStore.refresh_after``: gc's safety)."""
    try:
        refresh_after = float(profile["retention_grace_hours"]) * 3600 / 2
    except (KeyError, TypeError, ValueError):  # unset: the default grace (gc checks the value)
        return make, text

    def make_blobstore(flow: str) -> BlobStore:
        store = make(flow)
        store.refresh_after = refresh_after
        return store

    return make_blobstore, text


def stores_for(profile: Profile) -> Stores:
    """Open the stores a profile names (no request is made until they are used)."""
    # Registers the DataFrame encoding (cheap: pandas is imported only for a DataFrame value).
    import flowlib.datastore.dataframe  # noqa: F401
    from flowlib.config import PROFILE_ENV, ROOT_ENV, profile_env

    opening = _Opening(profile)
    make_blobstore, blobs_text = _refreshing(profile, *DATASTORES[profile["datastore"]](opening))
    metadata, metadata_text = METADATA[profile["metadata"]](opening)
    if profile.is_aws:
        description = (
            f"profile '{profile.name}' ({blobs_text}, {metadata_text}, {profile['region']})"
        )
        env = profile_env(profile)
    else:
        description = blobs_text
        env = {PROFILE_ENV: profile.name}
    if "root" in vars(opening):  # a local store is in use: tasks must open the same folder
        env[ROOT_ENV] = str(opening.root)
    return Stores(metadata, make_blobstore, description, env, profile=profile)


def reset_stores() -> None:
    """Forget the opened stores (after the configuration changed, e.g. in tests)."""
    global _opened
    if _opened is not None:
        _opened.metadata.close()
    _opened = None
