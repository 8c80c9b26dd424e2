"""flowlib configuration: where runs and artifacts are stored.

The zero-setup default is a ``.flowlib/`` folder: the nearest one found walking up from the
working directory (like git finds ``.git``), else a new one in the working directory.
``FLOWLIB_DATASTORE_ROOT`` overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

LOCAL_DIR_NAME = ".flowlib"
ROOT_ENV = "FLOWLIB_DATASTORE_ROOT"


def local_root(start: Path | None = None) -> Path:
    """The local store folder for ``start`` (default: the working directory)."""
    explicit = os.environ.get(ROOT_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / LOCAL_DIR_NAME
        if candidate.is_dir():
            return candidate
    return here / LOCAL_DIR_NAME
