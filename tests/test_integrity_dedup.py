"""Deduplication never trusts a stored blob it cannot verify (issue 10, integrity).

A blob damaged in place (a flipped byte, same size) used to be counted as stored by the next
write of the same value, so every later run producing that value failed on read while its writer
was marked succeeded. Now the next write of the right content heals it, on every backend, and
code packages (stored as blobs) heal the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowlib.exceptions import CorruptArtifactError
from tests.support.backends import Backend


def _damage(backend: Backend, blobs, key: str) -> None:
    """Overwrite the stored blob with other bytes of the same size, behind the store's back."""
    if backend.name == "local":
        path = Path(blobs.location(key))
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        s3 = backend.stack.client("s3")
        obj = s3.get_object(Bucket=blobs.bucket, Key=blobs.object_key(key))["Body"].read()
        flipped = bytearray(obj)
        flipped[len(flipped) // 2] ^= 0xFF
        s3.put_object(Bucket=blobs.bucket, Key=blobs.object_key(key), Body=bytes(flipped))


def test_next_write_heals_a_damaged_blob(backend: Backend):
    from flowlib.stores import open_stores

    blobs = open_stores().artifacts("F").blobs
    data = os.urandom(4096)
    key = blobs.put([data])
    _damage(backend, blobs, key)
    with pytest.raises(CorruptArtifactError):
        blobs.get(key)
    assert blobs.put([data[:100], data[100:]]) == key
    assert bytes(blobs.get(key)) == data


def test_intact_blob_is_not_rewritten(backend: Backend):
    from flowlib.stores import open_stores

    blobs = open_stores().artifacts("F").blobs
    data = os.urandom(2048)
    key = blobs.put([data])
    writes = []
    original = blobs._write
    blobs._write = lambda *a: (writes.append(a), original(*a))  # type: ignore[method-assign]
    assert blobs.put([data]) == key
    assert writes == []


def test_a_damaged_code_package_is_healed_by_the_next_upload(backend: Backend, tmp_path: Path):
    from flowlib.remote.package import unpack_package, upload_package
    from flowlib.stores import open_stores

    flow_dir = tmp_path / "code"
    flow_dir.mkdir()
    flow_file = flow_dir / "pkg_flow.py"
    flow_file.write_text("print('hello')\n" * 50)
    stores = open_stores()
    package = upload_package(stores, "PkgFlow", flow_file)
    _damage(backend, stores.artifacts("PkgFlow").blobs, package.key)
    with pytest.raises(CorruptArtifactError):
        unpack_package(stores, "PkgFlow", package.key, tmp_path / "out1")
    again = upload_package(stores, "PkgFlow", flow_file)
    assert again.key == package.key
    unpack_package(stores, "PkgFlow", package.key, tmp_path / "out2")
    assert (tmp_path / "out2" / "pkg_flow.py").read_text() == flow_file.read_text()
