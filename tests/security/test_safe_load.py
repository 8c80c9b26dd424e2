"""Safe loading (FLOWLIB_SAFE_LOAD=1 / flowlib.client.safe_load): data types load, any other
pickle is refused before it runs, with a message naming the artifact."""

from __future__ import annotations

import io
import json
import pickle
import pickletools
import struct
from pathlib import Path

import numpy as np
import pytest

from flowlib.client import Run, namespace, safe_load
from flowlib.datastore import codec
from flowlib.datastore import safe_load as safe
from flowlib.datastore.artifacts import ArtifactRef, ArtifactStore
from flowlib.datastore.local import LocalBlobStore


@pytest.fixture(autouse=True)
def _follow_environment():
    safe_load(None)
    yield
    safe_load(None)


def _blob(value: object) -> tuple[memoryview, str]:
    encoded = codec.encode_pickle(value)
    return memoryview(b"".join(bytes(memoryview(c)) for c in encoded.chunks)), encoded.type_name


def _framed(stream: bytes) -> memoryview:
    """A raw pickle stream in flowlib's pickle5 framing, as an attacker would store it."""
    header = json.dumps({"segments": [[0, len(stream), len(stream), "raw"]]}).encode()
    prefix = codec.MAGIC + struct.pack("<I", len(header)) + header
    prefix += b"\0" * (codec._aligned(len(prefix)) - len(prefix))
    return memoryview(prefix + stream)


def test_planted_pickle_does_not_run_in_safe_mode(local, tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "pwned"
    local.run("planted_flow.py", "run", env={"PLANTED_MARKER": str(marker)})
    namespace(None)
    data = Run("PlantedFlow/1")["start"].task.data

    safe_load()
    assert data.scores.sum() == np.arange(100_000, dtype=np.float64).sum()
    assert list(data.frame["b"]) == ["x", "y"]
    assert data.report == {"n": 2, "when": None, "tags": ("a", "b")}
    with pytest.raises(safe.UnsafeArtifactError) as refused:
        _ = data.model
    message = str(refused.value)
    assert "artifact 'model' of PlantedFlow/1/start/1" in message
    assert "builtins.exec" in message and "FLOWLIB_SAFE_LOAD" in message
    with pytest.raises(safe.UnsafeArtifactError, match="'where'.*pathlib.PurePosixPath"):
        _ = data.where
    assert not marker.exists()

    # The environment variable alone switches it on too.
    safe_load(None)
    monkeypatch.setenv("FLOWLIB_SAFE_LOAD", "1")
    with pytest.raises(safe.UnsafeArtifactError, match="'model'"):
        _ = data.model
    assert not marker.exists()

    # Without safe loading the same read runs the planted code: the threat is real.
    safe_load(False)
    data.model  # noqa: B018 - the read itself is the point
    assert marker.read_text() == "code ran in the reader"


@pytest.mark.parametrize(
    "stream",
    [
        b"cos\nsystem\n(S'touch /tmp/x'\ntR.",  # protocol 0 GLOBAL
        b"cposix\nsystem\n(S'x'\ntR.",
        pickle.dumps(getattr, protocol=5),  # builtins outside the allow-list
        b"\x80\x05\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.",  # STACK_GLOBAL
        b"\x80\x05\x8c\x05numpy\x8c\x04load\x93.",  # an allowed module, another name
        b"(cbuiltins\nexec\nS'1'\no.",  # OBJ opcode
        b"(S'1'\nibuiltins\nexec\n.",  # INST opcode
    ],
)
def test_data_only_unpickler_refuses_foreign_references(stream: bytes) -> None:
    pickletools.dis(stream, out=io.StringIO())  # a well-formed pickle
    with pytest.raises(safe.UnsafeArtifactError):
        safe.decode(_framed(stream), "pickle5", "x")


def test_data_types_round_trip_in_safe_mode() -> None:
    import collections
    import datetime as dt
    import decimal
    import fractions
    import uuid

    values = [
        None, True, 3, 2.5, 1 + 2j, "s", b"b", bytearray(b"x"), [1, (2, 3)], {"a": {1, 2}},
        frozenset([1]), range(3), slice(1, 2), collections.OrderedDict(a=1),
        collections.defaultdict(list, a=[1]), collections.deque([1]), collections.Counter("ab"),
        dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.timezone.utc), dt.date(2024, 1, 2),
        dt.timedelta(seconds=3), decimal.Decimal("1.5"), fractions.Fraction(1, 3),
        uuid.UUID(int=7), np.float64(1.5), np.int32(3), np.dtype("f8"),
        np.array([1, "x"], dtype=object), np.arange(6).reshape(2, 3).T,
        np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]), np.ma.masked_array([1, 2]),
        np.datetime64("2020-01-01"), np.zeros(1 << 20),  # out-of-band, zstd-compressed
        np.random.default_rng(0).random(1 << 18),  # out-of-band, raw
    ]
    for value in values:
        blob, type_name = _blob(value)
        loaded = safe.decode(blob, "pickle5", type_name)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(loaded, value)
        else:
            assert loaded == value or (value != value), type_name


def test_unknown_encodings_are_refused_in_safe_mode() -> None:
    with pytest.raises(safe.UnsafeArtifactError, match="'custom' encoding"):
        safe.decode(memoryview(b""), "custom", "x")


def test_artifact_store_names_the_artifact(tmp_path: Path) -> None:
    store = ArtifactStore(LocalBlobStore(tmp_path, "F"))
    stream = b"\x80\x05\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R."
    blob = _framed(stream)
    key = store.blobs.put([blob])
    ref = ArtifactRef(key, blob.nbytes, "int", "pickle5")
    safe_load()
    with pytest.raises(safe.UnsafeArtifactError) as refused:
        store.load(ref, "count", "F/7/train/3")
    assert "artifact 'count' of F/7/train/3" in str(refused.value)
    assert "os.system" in str(refused.value)
