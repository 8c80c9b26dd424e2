"""Built virtualenvs, one per environment key, built once and shared by every task and run.

``<folder>/venvs/<key>/`` is complete when it exists: it is built in a temporary folder beside
it and renamed into place (atomic), under an exclusive file lock on ``<key>.lock`` so that two
runs needing the same environment at once build it once (the second waits, then finds it).
A build that fails leaves nothing behind but its temporary folder, removed on the way out.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from flowlib.environments import uv
from flowlib.environments.locks import Lock
from flowlib.environments.record import RECORD_FILE


def venv_python(folder: Path, key: str) -> Path:
    return folder / "venvs" / key / "bin" / "python"


def ensure_venv(folder: Path, lock: Lock, report: Callable[[str], None]) -> Path:
    """The interpreter of ``lock``'s virtualenv, building the virtualenv first if needed."""
    key = lock.spec.key
    venvs = folder / "venvs"
    final = venvs / key
    if (final / RECORD_FILE).exists():
        return venv_python(folder, key)
    venvs.mkdir(parents=True, exist_ok=True)
    with open(venvs / f"{key}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # released when the file closes
        if (final / RECORD_FILE).exists():  # another run built it while we waited
            return venv_python(folder, key)
        report(
            f"Building environment {key[:12]} (python {lock.spec.python}, "
            f"{len(lock.pins)} packages)..."
        )
        tmp = venvs / f".{key}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            uv.build_venv(lock.text, lock.spec.python, tmp)
            record = {**lock.spec.describe(), "lock": lock.blob_key, "packages": lock.pins}
            (tmp / RECORD_FILE).write_text(json.dumps(record, indent=1, sort_keys=True))
            if final.exists():  # a half-built leftover of an older flowlib: replace it
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return venv_python(folder, key)
