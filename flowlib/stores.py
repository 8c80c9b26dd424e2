"""The pair of stores a run uses: blobs (artifacts, logs) and metadata.

Backends are chosen here, once, from the effective config profile (``flowlib.config``);
flows, the runtime and the client only see the interfaces. The local profile needs no setup
and imports nothing from AWS; boto3 is imported only when the profile uses S3 or DynamoDB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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


_opened: Stores | None = None


def open_stores() -> Stores:
    """The stores of the effective configuration (opened once per process)."""
    global _opened
    if _opened is None:
        from flowlib.config import effective_profile

        _opened = stores_for(effective_profile())
    return _opened


def stores_for(profile: Profile) -> Stores:
    """Open the stores a profile names (no request is made until they are used)."""
    # Registers the DataFrame encoding (cheap: pandas is imported only for a DataFrame value).
    import flowlib.datastore.dataframe  # noqa: F401
    from flowlib.config import PROFILE_ENV, ROOT_ENV, local_root, profile_env

    root: Path | None = None
    if profile["datastore"] == "local" or profile["metadata"] == "local":
        root = Path(profile["datastore_root"]).expanduser().resolve() if profile[
            "datastore_root"] else local_root()
    if not profile.is_aws:
        from flowlib.datastore.local import LocalBlobStore
        from flowlib.metadata.sqlite import SqliteMetadataStore

        assert root is not None
        return Stores(
            metadata=SqliteMetadataStore(root / "metadata.db"),
            make_blobstore=lambda flow: LocalBlobStore(root, flow),
            description=f"local folder {root}",
            task_env={ROOT_ENV: str(root), PROFILE_ENV: profile.name},
            profile=profile,
        )

    from flowlib.config.aws import AwsContext

    aws = AwsContext(profile)
    parts = []
    if profile["datastore"] == "s3":
        from flowlib.datastore.s3 import S3BlobStore

        bucket, prefix = profile["s3_bucket"], profile["s3_prefix"] or ""

        def make_blobstore(flow: str) -> BlobStore:
            return S3BlobStore(aws, bucket, prefix, flow)

        preflight = aws.check_bucket
        parts.append(f"s3://{bucket}/{prefix}".rstrip("/"))
    else:
        from flowlib.datastore.local import LocalBlobStore

        def make_blobstore(flow: str) -> BlobStore:
            return LocalBlobStore(root, flow)

        preflight = None
        parts.append(f"local folder {root}")
    metadata: MetadataStore
    if profile["metadata"] == "dynamodb":
        from flowlib.metadata.dynamodb import DynamoDBMetadataStore

        metadata = DynamoDBMetadataStore(aws, profile["dynamodb_table"], preflight=preflight)
        parts.append(f"DynamoDB table {profile['dynamodb_table']}")
    else:
        from flowlib.metadata.sqlite import SqliteMetadataStore

        metadata = SqliteMetadataStore(root / "metadata.db")
        parts.append(f"metadata {root / 'metadata.db'}")
    env = profile_env(profile)
    if root is not None:
        env[ROOT_ENV] = str(root)
    return Stores(
        metadata=metadata,
        make_blobstore=make_blobstore,
        description=f"profile '{profile.name}' ({', '.join(parts)}, {profile['region']})",
        task_env=env,
        profile=profile,
    )


def reset_stores() -> None:
    """Forget the opened stores (after the configuration changed, e.g. in tests)."""
    global _opened
    if _opened is not None:
        _opened.metadata.close()
    _opened = None
