"""Loaded by the bench's moto server process only (``PYTHONPATH``; see bench/retention.py).

moto 5.2 answers a DynamoDB Query on the table's own key by sorting and walking every item of
the table (``Table.all_items``), so a request over one run's partition costs time in
proportion to the whole table: gc over N runs then takes time in N², which says nothing about
DynamoDB (it reads one partition). This patch makes a main-table Query with a partition key
read that partition only, as DynamoDB does; answers are unchanged (the same items, sorted by
moto afterwards). Index queries, scans and everything else are moto's own code.
"""

from __future__ import annotations

import threading

try:
    from moto.dynamodb.models.table import Table
except Exception:  # noqa: BLE001 - not the moto process, or another moto: leave it alone
    Table = None

if Table is not None:
    _local = threading.local()
    _all_items = Table.all_items
    _query = Table.query

    def all_items(self):  # type: ignore[no-untyped-def]
        only = getattr(_local, "partition", None)
        if only is not None and only[0] is self:
            part = self.items.get(only[1], {})
            return sorted(part.values(), key=lambda x: x.range_key)
        return _all_items(self)

    def query(self, hash_key, *args, **kwargs):  # type: ignore[no-untyped-def]
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None or not self.range_key_attr:
            return _query(self, hash_key, *args, **kwargs)
        _local.partition = (self, hash_key)
        try:
            return _query(self, hash_key, *args, **kwargs)
        finally:
            _local.partition = None

    Table.all_items = all_items
    Table.query = query
