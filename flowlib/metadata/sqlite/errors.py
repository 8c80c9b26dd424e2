"""sqlite3 errors of the metadata store as one clear message each.

A damaged database file ("file is not a database", "database disk image is malformed"), a full
disk, or any other SQLite failure reaches users as a ``MetadataError`` saying what happened and
what to do, never as a raw ``sqlite3`` traceback. ``IntegrityError`` is left alone: it would be
a bug in the store, not a condition of the file.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowlib.exceptions import MetadataError


def database_error(path: Path, exc: sqlite3.Error) -> MetadataError:
    """One clear message for a damaged, full or unreadable metadata database."""
    text = str(exc)
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return MetadataError(
            f"The metadata database {path} is damaged ({text}). Runs stored in it may be "
            "incomplete. Keep a copy of it, then recover it with "
            f"'sqlite3 {path} .recover | sqlite3 recovered.db' and move recovered.db in its "
            "place (the run ids it lost stay reserved), or set FLOWLIB_DATASTORE_ROOT to a new "
            "folder."
        )
    if "full" in text:
        return MetadataError(
            f"The disk holding the metadata database {path} is full ({text}). Free space, then "
            "continue the run with 'resume' (finished tasks are kept)."
        )
    return MetadataError(f"The metadata database {path} failed: {text}.")


def _translating(method: Callable) -> Callable:
    """Turn sqlite3 errors of a public store method into one clear MetadataError."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise database_error(self.path, exc) from None

        return generator

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise database_error(self.path, exc) from None

    return wrapper


def translate_errors(cls: type) -> type:
    """Wrap every public method of a SQLite-backed store (``close`` excepted)."""
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(method) and name != "close":
            setattr(cls, name, _translating(method))
    return cls
