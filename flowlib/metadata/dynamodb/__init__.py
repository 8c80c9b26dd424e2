"""Metadata in one DynamoDB table (single-table design).

The table's keys and index are a contract with the Terraform metadata module: both read
``flowlib/metadata/table_schema.json`` (``pk``/``sk`` strings, one GSI ``gsi1`` on
``gsi1pk``/``gsi1sk``, projection ALL, on-demand billing). ``check_table`` compares a live
table with that file.

Items (``F`` = flow name, ``R`` = run number zero-padded to 12 digits, so that string order is
numeric order; ``S`` = step, ``T`` = task id, ``A`` = attempt zero-padded to 4 digits):

=============== ================= ===================== ============= ======== ==============
item            pk                sk                    gsi1pk        gsi1sk   attributes
=============== ================= ===================== ============= ======== ==============
flow            ``FLOWS``         ``FLOW#F``                                   last_run (run
                                                                               id counter)
run             ``FLOW#F``        ``RUN#R``                                    user, status,
                                                                               times, tag sets
run tag         ``RUN#F#R``       ``TAG#<tag>``         ``TAG#F#<tag>`` ``R``  system (bool)
task            ``RUN#F#R``       ``TASK#S#T``                                 status, inputs,
                                                                               transition...
attempt         ``RUN#F#R``       ``ATTEMPT#S#T#A``                            status, error,
                                                                               logs
artifacts       ``RUN#F#R``       ``ARTS#S#T#A#<part>``                        name -> ref map
                                                                               (JSON), split in
                                                                               parts < 300 KB
=============== ================= ===================== ============= ======== ==============

Access patterns, each one Query or GetItem, never a Scan:

* latest run / last N runs of a flow: Query ``pk=FLOW#F``, ``sk`` begins_with ``RUN#``,
  newest first (``ScanIndexForward=false``), ``Limit`` = what is asked for (first page small,
  later pages larger). With 10,000 runs stored ``Flow(...).latest_run`` costs the same requests
  as with 10.
* runs of a flow by tag, newest first (the client's namespace is the tag ``user:<name>``):
  Query ``gsi1`` on ``gsi1pk=TAG#F#<tag>`` newest first, then one BatchGetItem of the run
  items (strongly consistent) per page; further tags are checked on the run items' tag sets.
  The GSI is eventually consistent: a run created a moment ago may be missing from a tag
  query for a fraction of a second (the run items themselves are read consistently).
* one run: GetItem ``FLOW#F`` / ``RUN#R``. All flows: Query ``pk=FLOWS``.
* steps and tasks of a run: Query ``pk=RUN#F#R``, ``sk`` begins_with ``TASK#``; tasks of a
  step: begins_with ``TASK#S#``.
* attempts of a task: begins_with ``ATTEMPT#S#T#``; artifacts of an attempt: begins_with
  ``ARTS#S#T#A#``; cards of a task: begins_with ``CARD#S#T#`` (item ``RUN#F#R`` /
  ``CARD#S#T#A#<index>``: type, card id, blob key, time).
* a page of runs (the UI's listing, filtered by user, status, time and tags): Query
  ``pk=FLOW#F`` with ``sk`` below the page's ``RUN#<before>``, newest first, with a
  FilterExpression; with tags, Query ``gsi1`` below ``<before>`` then BatchGetItem. Each page
  examines at most ``PAGE_SCAN`` items, so a page costs the same with 10,000 runs as with 10.

Every read of the main table is strongly consistent: the scheduler reads an attempt right
after the task process wrote it. Every Query is paginated (``LastEvaluatedKey``).

Writes:

* Run ids: UpdateItem ``ADD last_run 1`` on the flow item (atomic, ``ReturnValues``), then a
  transaction putting the run item with ``attribute_not_exists`` plus its tag items. Concurrent
  runs of a flow always get distinct ids, and if the counter were ever behind (restored
  table) the conditional put refuses to overwrite and the next number is taken.
* Attempts: a transaction of the attempt item (``attribute_not_exists``: an attempt is
  recorded once) and the task's status.
* Outcomes: the artifact items are written before the attempt and task flip to
  ``succeeded``, in the same transaction when they fit in one (the usual case), else by
  parallel PutItems first. A failed write therefore never leaves a task marked done.
* Tasks of a foreach are registered with parallel PutItems (16 at a time). No BatchWriteItem
  anywhere: IAM authorizes it as a whole, its deletes included, PutItem as itself.
* Retries (botocore ``adaptive`` mode) are safe: botocore fills TransactWriteItems'
  ``ClientRequestToken`` (idempotency), so a transaction retried after a lost response is not
  applied twice and cannot fail its own ``attribute_not_exists`` check; a retried counter
  update at worst skips a run number.

Limits: one task item holds its ``input_paths``; a join of more than ~10,000 inputs would pass
DynamoDB's 400 KB item limit (the local runtime caps foreach at ``--max-num-splits``, 100 by
default).
"""

from __future__ import annotations

from flowlib.metadata.base import MetadataStore
from flowlib.metadata.dynamodb.items import check_table, create_table_kwargs, table_schema
from flowlib.metadata.dynamodb.retention import DynamoDBRetention
from flowlib.metadata.dynamodb.runs import DynamoDBRuns
from flowlib.metadata.dynamodb.table import DynamoDBTable
from flowlib.metadata.dynamodb.tasks import DynamoDBTasks

__all__ = ["DynamoDBMetadataStore", "check_table", "create_table_kwargs", "table_schema"]


class DynamoDBMetadataStore(DynamoDBRuns, DynamoDBTasks, DynamoDBRetention, MetadataStore):
    """:class:`~flowlib.metadata.base.MetadataStore` on one DynamoDB table: the run, task and
    retention halves live in ``runs.py``, ``tasks.py`` and ``retention.py``, on the table access
    (calls, retries, batches, transactions, keys) of ``table.py``."""

    def __init__(self, aws, table: str) -> None:
        DynamoDBTable.__init__(self, aws, table)
