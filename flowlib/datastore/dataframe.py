"""pandas DataFrames stored as Parquet (encoding ``parquet``).

Importing this module registers an encoder in ``codec.ENCODERS`` and a decoder in
``codec.DECODERS["parquet"]``. pandas and pyarrow are imported only when a value IS a pandas
DataFrame, so flows that never store one pay nothing.

Where the file is. The artifact's blob is a plain Parquet file (no flowlib header) at the
content-addressed location, readable by any Parquet reader:

* local profile: ``<datastore root>/<flow>/data/<key[:2]>/<key>``
* AWS profile: ``s3://<bucket>/<prefix>/<flow>/data/<key[:2]>/<key>``, e.g.
  ``awswrangler.s3.read_parquet(url)``, ``pandas.read_parquet(url)``, DuckDB, Spark, Athena.

``open_stores().artifacts(flow).blobs.location(Task(...)["df"].sha)`` gives the path or URL
(a ``DataArtifact.location`` property is proposed to the client). The same bytes are written on
both profiles (pyarrow, snappy compression, deterministic for equal frames), so content
addressing and dedup work as for any artifact; awswrangler is the documented reader on S3
rather than the writer because it chooses its own object names.

What round-trips (``tests/test_dataframe.py`` checks each): column names (strings, integers,
MultiIndex columns) and order; int/uint/float of every width, bool, string, the nullable
``Int64``/``Float64``/``boolean``/``string`` dtypes with missing values, categoricals (and their
order), timezone-aware and naive datetimes, timedeltas, bytes; a RangeIndex, named indexes,
MultiIndex rows; ``df.attrs`` (JSON-serialisable values). This relies on the pandas metadata
pyarrow stores in the file; readers that ignore it (Spark, Athena, DuckDB) see an unnamed
non-range index as a ``__index_level_0__`` column.

What does not, and is therefore stored with ``pickle5`` instead (exactly, but not readable as
Parquet): object columns whose cells are lists, tuples, dicts, sets or arbitrary objects, or of
mixed types (pyarrow would turn lists into arrays, or cannot convert at all); duplicate column
names; DataFrame subclasses; anything pyarrow refuses. ``ref.encoding`` says which encoding an
artifact got. Not kept either way by Parquet: ``df.flags``; the exact Index class when an
integer index equals a range (it may come back as a RangeIndex, equal in value).
"""

from __future__ import annotations

import warnings
from typing import Any

from flowlib.datastore import codec

ENCODING = "parquet"
_PARQUET_OK_OBJECT_KINDS = {"string", "bytes", "empty", "date", "decimal", "boolean"}


def _is_dataframe(value: Any) -> bool:
    cls = type(value)
    return cls.__name__ == "DataFrame" and cls.__module__.startswith("pandas")


def _parquet_safe(df: Any) -> bool:
    """False if some column would not come back as it went in."""
    from pandas.api.types import infer_dtype

    if not df.columns.is_unique:
        return False
    for _, column in df.items():
        if column.dtype == object and infer_dtype(column, skipna=True) not in (
            _PARQUET_OK_OBJECT_KINDS
        ):
            return False
    return True


def encode_dataframe(value: Any) -> codec.Encoded | None:
    if not _is_dataframe(value):
        return None
    import pandas as pd

    if type(value) is not pd.DataFrame or not _parquet_safe(value):
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with warnings.catch_warnings():
            # pyarrow's conversion of tz-aware columns trips a pandas 3 deprecation warning
            # that is pyarrow's to fix, not the user's.
            warnings.filterwarnings("ignore", message=".*drops timezone information.*")
            table = pa.Table.from_pandas(value, preserve_index=None)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="snappy")
    except (pa.ArrowException, ValueError, TypeError):
        return None  # pickle5 keeps it exactly
    buffer = sink.getvalue()
    return codec.Encoded([memoryview(buffer)], ENCODING, codec.type_name(value))


def decode_dataframe(blob: memoryview) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(pa.py_buffer(blob))).to_pandas()


def register() -> None:
    if encode_dataframe not in codec.ENCODERS:
        codec.ENCODERS.append(encode_dataframe)
    codec.DECODERS[ENCODING] = decode_dataframe


register()
