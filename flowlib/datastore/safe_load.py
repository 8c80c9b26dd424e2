"""Safe loading: read artifacts as data only, never as code.

An artifact stored with ``pickle5`` is a pickle, and unpickling can call any importable
function: whoever can write a run's store (see the README's trust model) can make a reader
run code. In safe mode a reader loads only values made of data types, and refuses every other
pickle before anything in it runs:

* builtins: None, bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set,
  frozenset, range, slice;
* ``collections`` OrderedDict, defaultdict (of an allowed factory), deque, Counter;
  ``datetime`` date, time, datetime, timedelta, timezone; ``decimal.Decimal``,
  ``fractions.Fraction``, ``uuid.UUID``;
* numpy arrays (of any dtype but ``object``, whose elements must be allowed values
  themselves), numpy scalars and dtypes, masked arrays; their out-of-band buffers are
  plain bytes handed to ``pickle.loads(buffers=...)``, so they cannot carry code;
* pandas DataFrames stored as Parquet (``parquet`` encoding: read by pyarrow, no pickle;
  pyarrow 14.0.1 or later, since older versions unpickle one kind of extension column).

How: ``pickle.Unpickler.find_class`` is the one place where a pickle names a Python object
(class or function) to call; :class:`DataOnlyUnpickler` answers it from the allow-list above
and raises for anything else, so a refused pickle stops at its first foreign reference. An
encoding other than ``pickle5`` and ``parquet`` is refused too.

Switch it on with ``FLOWLIB_SAFE_LOAD=1`` in the environment (inherited by task processes),
or in a notebook with ``flowlib.client.safe_load()`` (``safe_load(False)`` switches it off,
``safe_load(None)`` goes back to the environment variable).
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any

from flowlib.exceptions import ArtifactError

ENV_VAR = "FLOWLIB_SAFE_LOAD"

_NUMPY_CORE_NAMES = {"_reconstruct", "scalar", "_frombuffer"}
ALLOWED: dict[str, frozenset[str]] = {
    "builtins": frozenset({
        "bool", "int", "float", "complex", "str", "bytes", "bytearray", "list", "tuple", "dict",
        "set", "frozenset", "range", "slice",
    }),
    "collections": frozenset({"OrderedDict", "defaultdict", "deque", "Counter"}),
    "datetime": frozenset({"date", "time", "datetime", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "fractions": frozenset({"Fraction"}),
    "uuid": frozenset({"UUID", "SafeUUID"}),
    "numpy": frozenset({"dtype", "ndarray"}),
    # numpy 2 moved numpy.core to numpy._core; pickles name whichever wrote them.
    "numpy._core.multiarray": frozenset(_NUMPY_CORE_NAMES),
    "numpy._core.numeric": frozenset(_NUMPY_CORE_NAMES),
    "numpy.core.multiarray": frozenset(_NUMPY_CORE_NAMES),
    "numpy.core.numeric": frozenset(_NUMPY_CORE_NAMES),
    "numpy.ma": frozenset({"MaskedArray"}),
    "numpy.ma.core": frozenset({"_mareconstruct", "MaskedArray"}),
}
SAFE_ENCODINGS = frozenset({"pickle5", "parquet"})

_override: bool | None = None


class UnsafeArtifactError(ArtifactError):
    """Safe loading refused an artifact that is not plain data."""


def safe_load(enabled: bool | None = True) -> bool:
    """Load artifacts as data only in this process (``None``: follow ``FLOWLIB_SAFE_LOAD``).

    Returns whether safe loading is now on. Example, in a notebook reading a colleague's run::

        from flowlib import Flow
        from flowlib.client import safe_load
        safe_load()
        Flow("TrainFlow").latest_run.data.scores   # a numpy array: loaded
        Flow("TrainFlow").latest_run.data.model    # a fitted model: refused, says why
    """
    global _override
    _override = enabled
    return safe_load_enabled()


def safe_load_enabled() -> bool:
    if _override is not None:
        return _override
    return os.environ.get(ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")


class DataOnlyUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the allow-listed data types."""

    def find_class(self, module: str, name: str) -> Any:
        if name in ALLOWED.get(module, ()):
            return super().find_class(module, name)
        raise UnsafeArtifactError(f"{module}.{name}")


def loads_data_only(data: Any, buffers: list[Any] | None = None) -> Any:
    """``pickle.loads`` that raises UnsafeArtifactError(<module.name>) on a non-data type."""
    return DataOnlyUnpickler(io.BytesIO(data), buffers=buffers).load()


def decode(blob: memoryview, encoding: str, type_name: str) -> Any:
    """Decode like ``codec.decode``, refusing anything that is not plain data."""
    from flowlib.datastore import codec

    if encoding not in SAFE_ENCODINGS:
        raise UnsafeArtifactError(
            f"is stored with the '{encoding}' encoding ({type_name}), which safe loading does "
            "not read. " + _HOW_TO_LOAD
        )
    if encoding == "parquet":
        _check_pyarrow()
    if encoding != "pickle5":
        return codec.decode(blob, encoding)
    try:
        return codec.decode_pickle(blob, loads=loads_data_only)
    except UnsafeArtifactError as exc:
        raise UnsafeArtifactError(
            f"is a pickle of {type_name} that refers to {exc}, which is not a data type; "
            "safe loading reads only builtins, numpy arrays and DataFrames stored as Parquet. "
            + _HOW_TO_LOAD
        ) from None


def _check_pyarrow() -> None:
    """pyarrow before 14.0.1 unpickles "arrow.py_extension_type" columns of a Parquet file
    (CVE-2023-47248): such a file is a pickle in disguise."""
    import pyarrow

    version = tuple(int(p) for p in pyarrow.__version__.split(".")[:3] if p.isdigit())
    if version < (14, 0, 1):
        raise UnsafeArtifactError(
            f"is a Parquet file, and pyarrow {pyarrow.__version__} can run code while reading "
            "one (CVE-2023-47248); safe loading needs pyarrow 14.0.1 or later. "
            "Upgrade pyarrow."
        )


_HOW_TO_LOAD = (
    f"Load it only if you trust everyone who can write this run's store: unset {ENV_VAR} or "
    "call flowlib.client.safe_load(False)."
)
