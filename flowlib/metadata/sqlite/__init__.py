"""Metadata in an embedded SQLite database (the zero-setup local default).

WAL mode lets readers (the client, ``logs``, other runs) work while tasks write; every write is
one short transaction. Run numbers are allocated inside ``BEGIN IMMEDIATE`` so concurrent runs of
one flow get distinct ids. ``synchronous=NORMAL`` keeps commits durable across process crashes
(which is what a killed runtime is) without an fsync per task.
"""

from __future__ import annotations

import os

from flowlib.metadata.base import MetadataStore
from flowlib.metadata.sqlite.database import SqliteDatabase
from flowlib.metadata.sqlite.retention import SqliteRetention
from flowlib.metadata.sqlite.runs import SqliteRuns
from flowlib.metadata.sqlite.tasks import SqliteTasks

__all__ = ["SqliteMetadataStore"]


class SqliteMetadataStore(SqliteRuns, SqliteTasks, SqliteRetention, MetadataStore):
    """:class:`~flowlib.metadata.base.MetadataStore` in one SQLite file: the run, task and
    retention halves live in ``runs.py``, ``tasks.py`` and ``retention.py``, on the connections
    and transactions of ``database.py``."""

    def __init__(self, path: str | os.PathLike) -> None:
        SqliteDatabase.__init__(self, path)
