"""The store implementations the contract suites run against, one fixture per interface.

* ``metadata``: SQLite in a temporary folder, and DynamoDB on a fresh table of the session's
  moto server (``tests/support/moto_server.py``: a local stand-in for AWS over HTTP, not AWS).
* ``blobs``: the local folder store, and S3 on a fresh prefix of the moto server's bucket (the
  bucket is set up like the Terraform artifacts module: SSE-KMS, versioning).

A new backend adds one parameter here and must pass both suites unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowlib.config import Profile


def _aws_profile(stack: Any, **values: Any) -> Profile:
    return Profile("contract", {"region": stack.region, **values}, {})


@pytest.fixture(params=["sqlite", "dynamodb"])
def metadata(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    if request.param == "sqlite":
        from flowlib.metadata.sqlite import SqliteMetadataStore

        store = SqliteMetadataStore(tmp_path / "metadata.db")
        yield store
        store.close()
        return
    pytest.importorskip("moto.server")
    from flowlib.config.aws import AwsContext
    from flowlib.metadata.dynamodb import DynamoDBMetadataStore

    stack = request.getfixturevalue("moto_stack")
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    table = stack.create_table()
    profile = _aws_profile(stack, metadata="dynamodb", dynamodb_table=table)
    yield DynamoDBMetadataStore(AwsContext(profile), table)
    stack.delete_table(table)


@pytest.fixture(params=["local", "s3"])
def blobs(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A blob store of flow ``F``, with ``corrupt(key)`` to damage a stored blob in place (same
    size, one byte flipped) the way a disk or a bad copy would."""
    if request.param == "local":
        from flowlib.datastore.local import LocalBlobStore

        store = LocalBlobStore(tmp_path / "store", "F")

        def corrupt(key: str) -> None:
            path = Path(store.location(key))
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0xFF
            path.write_bytes(bytes(data))

        store.corrupt = corrupt  # type: ignore[attr-defined]
        yield store
        return
    pytest.importorskip("moto.server")
    from flowlib.config.aws import AwsContext
    from flowlib.datastore.s3 import S3BlobStore

    stack = request.getfixturevalue("moto_stack")
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    prefix = f"contracts/{uuid.uuid4().hex[:12]}"
    profile = _aws_profile(stack, datastore="s3", s3_bucket=stack.bucket, s3_prefix=prefix,
                           s3_kms_key_arn=stack.kms_key_arn)
    store = S3BlobStore(AwsContext(profile), stack.bucket, prefix, "F")
    s3 = stack.client("s3")

    def corrupt_s3(key: str) -> None:
        name = store.object_key(key)
        data = bytearray(s3.get_object(Bucket=stack.bucket, Key=name)["Body"].read())
        data[len(data) // 2] ^= 0xFF
        s3.put_object(Bucket=stack.bucket, Key=name, Body=bytes(data),
                      ServerSideEncryption="aws:kms", SSEKMSKeyId=stack.kms_key_arn)

    store.corrupt = corrupt_s3  # type: ignore[attr-defined]
    yield store
