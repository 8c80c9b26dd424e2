"""Artifacts: content addressing, dedup, compression where it pays, verified reads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from flowlib import Flow
from flowlib.datastore import codec
from flowlib.datastore.local import LocalBlobStore
from flowlib.exceptions import CorruptArtifactError


def test_arrays_round_trip_and_dedup_across_tasks_and_runs(backend):
    backend.run("array_flow.py", "run", "--kib", "8192")
    backend.run("array_flow.py", "run", "--kib", "8192")
    first, second = sorted(Flow("ArrayFlow").runs(), key=lambda r: int(r.id))
    a = first["start"].task["noise"]
    b = second["start"].task["noise"]
    assert a.sha == b.sha  # same value, stored once
    expected = np.random.default_rng(7).integers(0, 256, size=8 << 20, dtype=np.uint8)
    assert np.array_equal(a.data, expected)
    end = first["end"].task
    assert end["constant"].sha == end["constant_again"].sha == first["start"].task["constant"].sha
    assert end.data.noise[0] == 255 and end["noise"].sha != a.sha  # in-place change stored
    zeros = first["start"].task["zeros"]
    assert zeros.size < (4 << 20) * 8 // 50  # compressible data is compressed
    assert not zeros.data.any() and zeros.data.shape == (4 << 20,)


def test_incompressible_data_is_stored_raw():
    noise = np.frombuffer(os.urandom(1 << 20), dtype=np.uint8)
    encoded = codec.encode(noise)
    assert encoded.size >= noise.nbytes  # no compression attempt paid off
    assert np.array_equal(
        codec.decode(memoryview(b"".join(bytes(c) for c in encoded.chunks)), encoded.encoding),
        noise,
    )


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    store = LocalBlobStore(tmp_path, "F")
    key = store.put([b"hello ", b"world"])
    assert bytes(store.get(key)) == b"hello world"
    assert store.put([b"hello world"]) == key
    files = [p.name for p in (tmp_path / "F").rglob("*") if p.is_file()]
    assert sorted(files) == [".gc.lock", key]  # the lock gc's deletes and writes share


def _blob_path(root: Path, flow: str, key: str) -> Path:
    return root / flow / "data" / key[:2] / key


@pytest.mark.parametrize("size_kib", [64, 4096])
def test_a_corrupted_artifact_is_detected_with_its_pathspec(local, size_kib):
    local.run("array_flow.py", "run", "--kib", str(size_kib))
    task = Flow("ArrayFlow").latest_run["start"].task
    key = task["noise"].sha
    path = _blob_path(local.workdir / "store", "ArrayFlow", key)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifactError, match=f"'noise' of {task.pathspec}.*corrupted"):
        _ = task.data.noise
    rel = "/".join(task.pathspec.split("/")[1:])
    proc = local.run("array_flow.py", "dump", rel, "--name", "noise", expect=1)
    assert "corrupted" in proc.stderr and task.pathspec in proc.stderr
    assert "Traceback" not in proc.stderr
