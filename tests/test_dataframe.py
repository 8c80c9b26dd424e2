"""DataFrames are stored as Parquet files any reader opens; what does not round-trip is pickled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import flowlib.datastore.dataframe  # noqa: F401 - registers the encoding
from flowlib.datastore import codec

FLOWS = Path(__file__).resolve().parent / "aws" / "flows"


def _round_trip(df: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    encoded = codec.encode(df)
    blob = memoryview(b"".join(bytes(memoryview(c)) for c in encoded.chunks))
    return encoded.encoding, codec.decode(blob, encoded.encoding)


ROUND_TRIPS = {
    "numeric widths": pd.DataFrame({
        "i8": np.array([1, -2], dtype="int8"), "u16": np.array([1, 2], dtype="uint16"),
        "i64": [1, 2], "f32": np.array([0.5, 1.5], dtype="float32"), "f64": [0.1, np.nan],
        "b": [True, False],
    }),
    "nullable dtypes": pd.DataFrame({
        "I": pd.array([1, None], dtype="Int64"), "F": pd.array([0.5, None], dtype="Float64"),
        "B": pd.array([True, None], dtype="boolean"), "S": pd.array(["a", None],
                                                                       dtype="string"),
    }),
    "strings with missing": pd.DataFrame({"s": ["x", None, "z"]}),
    "categorical ordered": pd.DataFrame({"c": pd.Categorical(["lo", "hi", "lo"],
                                                             categories=["lo", "hi"],
                                                             ordered=True)}),
    "datetimes and timedeltas": pd.DataFrame({
        "naive": pd.date_range("2024-01-01", periods=3, freq="h"),
        "utc": pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC"),
        "paris": pd.date_range("2024-03-30", periods=3, freq="D", tz="Europe/Paris"),
        "delta": pd.to_timedelta([1, 2, 3], unit="s"),
    }),
    "bytes": pd.DataFrame({"raw": [b"\x00\x01", b"xyz"]}),
    "named index": pd.DataFrame({"v": [1.0, 2.0]},
                                index=pd.Index(["a", "b"], name="key")),
    "range index with step": pd.DataFrame({"v": [1, 2, 3]}, index=pd.RangeIndex(10, 40, 10)),
    "multiindex rows": pd.DataFrame(
        {"v": [1, 2]}, index=pd.MultiIndex.from_tuples([(1, "x"), (2, "y")], names=["i", "j"])
    ),
    "integer column names": pd.DataFrame({0: [1], 1: [2]}),
    "multiindex columns": pd.DataFrame(
        np.ones((2, 2)), columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])
    ),
    "empty": pd.DataFrame({"a": pd.Series([], dtype="int64")}),
}


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_parquet_round_trips(name):
    df = ROUND_TRIPS[name]
    encoding, back = _round_trip(df)
    assert encoding == "parquet"
    pd.testing.assert_frame_equal(back, df, check_index_type=False)


def test_attrs_round_trip():
    df = pd.DataFrame({"a": [1]})
    df.attrs["source"] = "sensor-7"
    encoding, back = _round_trip(df)
    assert encoding == "parquet" and back.attrs == {"source": "sensor-7"}


FALLBACKS = {
    "list cells": pd.DataFrame({"l": [[1, 2], [3]]}),
    "dict cells": pd.DataFrame({"d": [{"k": 1}, {"k": 2}]}),
    "mixed types": pd.DataFrame({"m": [1, "a", 2.5]}),
    "python objects": pd.DataFrame({"o": [object, len]}),
    "duplicate columns": pd.DataFrame([[1, 2]], columns=["a", "a"]),
}


@pytest.mark.parametrize("name", list(FALLBACKS))
def test_what_parquet_would_change_is_pickled_exactly(name):
    df = FALLBACKS[name]
    encoding, back = _round_trip(df)
    assert encoding == "pickle5"
    pd.testing.assert_frame_equal(back, df)


class MyFrame(pd.DataFrame):
    pass


def test_subclasses_and_other_values_are_not_parquet():
    assert codec.encode(MyFrame({"a": [1]})).encoding == "pickle5"
    assert codec.encode(pd.Series([1, 2])).encoding == "pickle5"


def test_equal_frames_have_equal_keys():
    from flowlib.datastore.hashing import content_key

    a = codec.encode(pd.DataFrame({"x": range(1000)}))
    b = codec.encode(pd.DataFrame({"x": range(1000)}))
    assert content_key(a.chunks) == content_key(b.chunks)


def test_values_that_are_not_frames_do_not_import_pandas():
    code = ("import sys, flowlib.datastore.dataframe, flowlib.datastore.codec as c; "
            "c.encode({'a': [1, 2]}); c.encode(b'x'); print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=os.environ.copy()).stdout
    assert out.strip() == "False"


def test_a_flow_stores_frames_readable_by_any_parquet_reader(backend):
    from flowlib import Flow
    from flowlib.stores import open_stores

    backend.run(FLOWS / "frame_flow.py", "run")
    task = Flow("FrameFlow").latest_run["start"].task
    df = task["df"]
    assert df.encoding == "parquet" and task["lists"].encoding == "pickle5"
    expected = pd.DataFrame({
        "i": [1, 2, 3], "s": ["a", "b", None], "n": pd.array([1, None, 3], dtype="Int64"),
        "c": pd.Categorical(["x", "y", "x"]),
    })
    pd.testing.assert_frame_equal(df.data, expected)
    assert task["lists"].data["l"].tolist() == [[1, 2], [3], []]
    assert Flow("FrameFlow").latest_run["end"].task.data.total == 6

    location = open_stores().artifacts("FrameFlow").blobs.location(df.sha)
    if backend.name == "aws":
        import awswrangler as wr

        assert location.startswith("s3://")
        outside = wr.s3.read_parquet(location)
    else:
        assert Path(location).is_file()
        outside = pd.read_parquet(location)
    pd.testing.assert_frame_equal(outside, expected, check_dtype=False,
                                  check_categorical=False)
