"""The blob store contract (flowlib/datastore/base.py), run against every backend: the local
folder and S3 (on the moto server). Every public method, and each failure mode it documents."""

from __future__ import annotations

import os
import time

import pytest

from flowlib.datastore.base import BlobInfo
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



def test_holds_are_listed_replaced_and_released(blobs):
    assert blobs.held_keys() == set() and blobs.list_entries("holds/") == []
    a, b = (blobs.put([f"blob {i}".encode()]) for i in range(2))
    blobs.hold("stepfunctions/ci-TrainFlow", [a])
    blobs.hold("stepfunctions/ci-TrainFlow", [a, b])  # a new create replaces the hold
    blobs.hold("stepfunctions/ci-Other Flow", [b])
    assert len(blobs.list_entries("holds/")) == 2
    assert blobs.held_keys() == {a, b}
    blobs.release("stepfunctions/ci-TrainFlow")
    blobs.release("stepfunctions/ci-TrainFlow")  # twice: nothing to do
    assert blobs.held_keys() == {b}
    assert all(info.key in (a, b) for info in blobs.list_blobs())  # holds are not blobs


def test_an_unreadable_hold_stops_gc_instead_of_being_skipped(blobs):
    blobs.write_entry("holds/broken.json", b"{not json")
    with pytest.raises(FlowlibError, match="unreadable.*gc cannot tell"):
        blobs.held_keys()


# -- retention (flowlib.retention: gc lists and deletes) -------------------------------------
def test_listing_names_every_blob_with_its_size_and_write_time(blobs):
    keys = [blobs.put([f"blob {i}".encode()]) for i in range(3)]
    listed = {b.key: b for b in blobs.list_blobs()}
    assert set(listed) == set(keys)
    assert listed[keys[0]].size == len(b"blob 0")
    assert abs(listed[keys[0]].modified - time.time()) < 300


def test_delete_removes_the_listed_blobs_and_absent_ones_are_no_error(blobs):
    keys = [blobs.put([f"blob {i}".encode()]) for i in range(3)]
    listed = {b.key: b for b in blobs.list_blobs()}
    absent = BlobInfo("0" * 40, 1, 0.0)
    assert blobs.delete_blobs([listed[keys[0]], absent]) == 2
    blobs.delete_blobs([listed[keys[0]]])  # twice: idempotent
    assert {b.key for b in blobs.list_blobs()} == set(keys[1:])
    with pytest.raises(NotFoundError):
        blobs.get(keys[0])


def test_a_fresh_blob_is_trusted_as_is_when_deduplicated(blobs):
    blobs.put([b"fresh"])
    (before,) = blobs.list_blobs()
    blobs.put([b"fresh"])  # younger than refresh_after: nothing is written
    (after,) = blobs.list_blobs()
    assert after == before


def test_a_blob_refreshed_by_a_deduplicating_put_after_the_listing_survives_the_delete(blobs):
    """gc lists an old blob, a task deduplicates against it, then gc deletes what it listed:
    the put refreshed the blob, so the delete spares it (the race gc's grace period alone
    cannot close)."""
    key = blobs.put([b"old and shared"])
    (listed,) = blobs.list_blobs()
    blobs.refresh_after = 0.0  # every stored blob counts as old
    time.sleep(0.01)  # a later write time than the listing's on any clock resolution
    assert blobs.put([b"old and shared"]) == key
    blobs.delete_blobs([listed])
    assert bytes(blobs.get(key)) == b"old and shared"
    # Listed again after the refresh, it is deleted (nothing refreshed it since).
    (relisted,) = blobs.list_blobs()
    blobs.delete_blobs([relisted])
    with pytest.raises(NotFoundError):
        blobs.get(key)
    # A deduplicating put after the delete finds nothing to refresh and stores it again.
    assert blobs.put([b"old and shared"]) == key
    assert bytes(blobs.get(key)) == b"old and shared"
