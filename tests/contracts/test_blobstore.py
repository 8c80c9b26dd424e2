"""The blob store contract (flowlib/datastore/base.py), run against every backend: the local
folder and S3 (on the moto server). Every public method, and each failure mode it documents."""

from __future__ import annotations

import os

import pytest

from flowlib.datastore.hashing import content_key
from flowlib.exceptions import CorruptArtifactError, FlowlibError, NotFoundError


def test_put_returns_the_content_key_and_get_returns_the_bytes(blobs):
    key = blobs.put([b"hello ", memoryview(b"wor"), bytearray(b"ld")])
    assert key == content_key([b"hello world"])
    back = blobs.get(key)
    assert isinstance(back, memoryview) and bytes(back) == b"hello world"
    assert not back.readonly  # values decoded on it (numpy arrays) stay writable


def test_identical_content_is_stored_once_under_one_key(blobs):
    data = os.urandom(3000)
    first = blobs.put([data])
    assert blobs.put([data[:1000], data[1000:]]) == first
    assert blobs.put([b"other"]) != first
    assert bytes(blobs.get(first)) == data


def test_an_empty_blob_round_trips(blobs):
    key = blobs.put([b""])
    assert key == content_key([b""]) and bytes(blobs.get(key)) == b""


def test_a_larger_blob_round_trips(blobs):
    data = os.urandom(3 << 20)
    key = blobs.put([memoryview(data)[: 1 << 20], memoryview(data)[1 << 20 :]])
    assert bytes(blobs.get(key)) == data


def test_a_caller_supplied_key_is_used_as_is(blobs):
    data = b"known content"
    key = content_key([data])
    assert blobs.put([data], key=key) == key
    assert bytes(blobs.get(key)) == data


def test_a_missing_blob_is_not_found(blobs):
    with pytest.raises(NotFoundError, match="missing"):
        blobs.get(content_key([b"never stored"]))


def test_a_corrupted_blob_is_reported_never_returned(blobs):
    key = blobs.put([os.urandom(4096)])
    blobs.corrupt(key)
    with pytest.raises(CorruptArtifactError, match="corrupted"):
        blobs.get(key)


def test_location_names_the_blob_by_flow_and_key(blobs):
    key = blobs.put([b"x"])
    location = blobs.location(key)
    assert location.endswith(f"F/data/{key[:2]}/{key}")
    assert location.startswith("s3://") or os.path.isfile(location)


def test_preflight_passes_on_a_usable_store(blobs):
    blobs.preflight()


def test_preflight_fails_with_a_fix_when_the_store_is_unusable(blobs, tmp_path):
    if hasattr(blobs, "bucket"):
        blobs.bucket = "flowlib-contract-no-such-bucket"
        blobs.aws.profile.values["s3_bucket"] = blobs.bucket
        with pytest.raises(FlowlibError, match="does not exist.*s3_bucket"):
            blobs.preflight()
        return
    if os.geteuid() == 0:
        blocked = tmp_path / "a-file"
        blocked.write_text("not a folder")
        blobs.root = blocked / "store"  # cannot be created: its parent is a file
    else:
        blobs.root.mkdir(parents=True, exist_ok=True)
        blobs.root.chmod(0o500)
    with pytest.raises(FlowlibError, match="FLOWLIB_DATASTORE_ROOT"):
        blobs.preflight()


def test_named_entries_are_replaced_whole_and_never_listed_as_blobs(blobs):
    name = "environments/locks/0123abcd.json"
    assert blobs.read_entry(name) is None
    blobs.write_entry(name, b'{"lock_key": "a"}')
    blobs.write_entry(name, b'{"lock_key": "b"}')
    assert blobs.read_entry(name) == b'{"lock_key": "b"}'
    assert all(not info.key.endswith(".json") for info in blobs.list_blobs())
    with pytest.raises(ValueError):
        blobs.write_entry("../outside", b"x")
