"""Durable high-water marks of run ids, kept beside the SQLite metadata database.

SQLite in WAL mode with ``synchronous=NORMAL`` keeps the last commits only in the ``-wal`` file
until a checkpoint; if that file is lost or damaged (a crash of the machine, a copy of the
database without it, a disk error) the database silently goes back to its last checkpoint and
would hand out the forgotten runs' ids again. Run ids name logs, artifacts and notes, so they
must never be reused: each allocation also writes the id to ``<database>.run-ids/<flow>``,
durably (temporary file, fsync, rename, fsync of the folder) and before the run row commits,
and the next id is one past the larger of the two.
"""

from __future__ import annotations

import os
from pathlib import Path

from flowlib.exceptions import MetadataError


class RunIdMarks:
    """The highest run id ever allocated, per flow, in one small file each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, flow: str) -> Path:
        return self.folder / flow

    def last(self, flow: str) -> int:
        try:
            text = self._file(flow).read_text().strip()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise MetadataError(
                f"Cannot read the run-id record {self._file(flow)}: {exc}."
            ) from None
        return int(text) if text.isdigit() else 0

    def record(self, flow: str, run_number: int) -> None:
        """Durably note ``run_number`` as allocated (callers hold the database write lock)."""
        path = self._file(flow)
        tmp = path.with_name(f".{flow}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w") as out:
                out.write(f"{run_number}\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise MetadataError(
                f"Cannot record run id {run_number} of {flow} in {path}: {exc.strerror or exc}. "
                "Free space or fix permissions of the folder, then run again."
            ) from None
