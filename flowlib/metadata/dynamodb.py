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

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import botocore.exceptions

from flowlib.config.aws import AwsContext
from flowlib.datastore.artifacts import ArtifactRef
from flowlib.exceptions import MetadataError
from flowlib.metadata.base import (
    AttemptAlreadyStartedError,
    AttemptNotStartedError,
    MetadataStore,
    RunNotFoundError,
    TaskExistsError,
    TaskNotRegisteredError,
    task_path,
)
from flowlib.metadata.dynamodb_items import (  # noqa: F401 - re-exported for callers
    _J,
    _N,
    _S,
    ARTIFACT_PART_BYTES,
    FIRST_PAGE,
    MAX_PAGE,
    PAGE_SCAN,
    RUN_DIGITS,
    TRANSACTION_BYTES,
    TRANSACTION_ITEMS,
    _att_no,
    _is_run_id,
    _json,
    _num,
    _run_no,
    _run_pk,
    _str,
    check_table,
    create_table_kwargs,
    table_schema,
)
from flowlib.metadata.records import (
    PENDING,
    REMOVED,
    REMOVING,
    RUNNING,
    SUCCEEDED,
    AttemptRecord,
    CardRecord,
    RunFilter,
    RunPage,
    RunRecord,
    TaskRecord,
)

PUT_WORKERS = 16  # parallel PutItems of one bulk write (the client pools 32 connections)


class DynamoDBMetadataStore(MetadataStore):
    def __init__(self, aws: AwsContext, table: str) -> None:
        self.aws = aws
        self.table = table

    @property
    def ddb(self) -> Any:
        return self.aws.client("dynamodb")

    def close(self) -> None:
        pass

    # -- request helpers -------------------------------------------------------------------
    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self.ddb, op)(**kwargs)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (
                "ConditionalCheckFailedException", "TransactionCanceledException"
            ):
                raise
            raise self._error(exc, op) from None
        except Exception as exc:  # noqa: BLE001 - credentials, endpoint...
            raise self._error(exc, op) from None

    def _error(self, exc: BaseException, op: str) -> Exception:
        action = "dynamodb:" + "".join(p.capitalize() for p in op.split("_"))
        return self.aws.wrap(
            exc, action, f"DynamoDB table '{self.table}' (region {self.aws.region})",
            MetadataError,
        )

    def _query(self, limit: int | None = None, first_page: int | None = None,
               **kwargs: Any) -> Iterator[dict]:
        """Items of a paginated Query (consistent on the main table), at most ``limit``."""
        kwargs.setdefault("ConsistentRead", "IndexName" not in kwargs)
        page = first_page
        seen = 0
        while True:
            if page is not None:
                kwargs["Limit"] = page if limit is None else min(page, limit - seen)
            response = self._call("query", TableName=self.table, **kwargs)
            for item in response.get("Items", []):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last
            if page is not None:
                page = min(page * 5, MAX_PAGE)

    def _prefix_query(self, pk: str, prefix: str, **kwargs: Any) -> Iterator[dict]:
        return self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": _S(pk), ":p": _S(prefix)},
            **kwargs,
        )

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """Put many items (``PutRequest`` entries) with parallel PutItem calls.

        Not BatchWriteItem: IAM authorizes that call as a whole, so a role allowed it could
        also delete items through its DeleteRequests, while PutItem is authorized as itself and
        the task role has no DeleteItem (README, trust model). Like BatchWriteItem this is not
        atomic and costs the same write units; each put is idempotent and retried by botocore
        (throttling included). Not transactions either: they cost twice the write units, and
        moto copies the whole table for every item of one, which made a 1,000-task foreach
        take minutes in the tests."""
        items = [r["PutRequest"]["Item"] for r in requests]
        if len(items) <= 1:
            for item in items:
                self._call("put_item", TableName=self.table, Item=item)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(PUT_WORKERS, len(items)), "flowlib-ddb") as pool:
            futures = [pool.submit(self._call, "put_item", TableName=self.table, Item=item)
                       for item in items]
            for future in futures:
                future.result()

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        """Delete items by key with BatchWriteItem (25 per request), resending what DynamoDB
        leaves unprocessed. Only gc calls it, with an operator's credentials: the task role
        has neither DeleteItem nor BatchWriteItem (README, trust model)."""
        for i in range(0, len(keys), 25):
            pending = {self.table: [{"DeleteRequest": {"Key": k}} for k in keys[i : i + 25]]}
            delay = 0.05
            while pending:
                response = self._call("batch_write_item", RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if pending:
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 5)

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict]:
        items: list[dict] = []
        for i in range(0, len(keys), 100):
            pending = {self.table: {"Keys": keys[i : i + 100], "ConsistentRead": True}}
            delay = 0.05
            while pending:
                response = self._call("batch_get_item", RequestItems=pending)
                items += response.get("Responses", {}).get(self.table, [])
                pending = response.get("UnprocessedKeys") or {}
                if pending:
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 5)
        return items

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """TransactWriteItems; raises _Cancelled with the per-item reasons on a failed check."""
        try:
            self._call("transact_write_items", TransactItems=items)
        except botocore.exceptions.ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            codes = [r.get("Code", "None") for r in reasons]
            if not codes:
                # Some servers put the reasons only in the message: "[None, ConditionalCheckFailed]"
                message = exc.response.get("Error", {}).get("Message", "")
                if "[" in message:
                    codes = [c.strip() for c in message.rsplit("[", 1)[1].rstrip("]").split(",")]
            raise _Cancelled(codes, exc) from None

    def preflight(self) -> None:
        """DescribeTable: the table exists, these credentials reach it, and its keys and index
        are the ones flowlib's items need (``table_schema.json``)."""
        table = self._call("describe_table", TableName=self.table)["Table"]
        problems = check_table(table)
        if problems:
            raise MetadataError(
                f"DynamoDB table '{self.table}' does not match flowlib's table schema "
                f"(flowlib/metadata/table_schema.json): {'; '.join(problems)}. Re-apply the "
                "Terraform metadata module."
            )

    # -- runs ------------------------------------------------------------------------------
    def create_run(
        self,
        flow: str,
        user: str,
        system_tags: list[str],
        tags: list[str],
        origin_run_id: str | None = None,
    ) -> RunRecord:
        system_tags = list(dict.fromkeys(system_tags))
        tags = [t for t in dict.fromkeys(tags) if t not in system_tags]
        for _ in range(100):
            counter = self._call(
                "update_item",
                TableName=self.table,
                Key={"pk": _S("FLOWS"), "sk": _S(f"FLOW#{flow}")},
                UpdateExpression="ADD last_run :one SET flow = :flow",
                ExpressionAttributeValues={":one": _N(1), ":flow": _S(flow)},
                ReturnValues="UPDATED_NEW",
            )
            number = int(counter["Attributes"]["last_run"]["N"])
            now = time.time()
            run_item, tag_items = self.run_items(
                flow, number, user, system_tags, tags, origin_run_id, now
            )
            tag_puts = [{"PutRequest": {"Item": t}} for t in tag_items]
            first = [{"Put": {"TableName": self.table, "Item": run_item,
                              "ConditionExpression": "attribute_not_exists(pk)"}}]
            first += [{"Put": {"TableName": self.table, **p["PutRequest"]}}
                      for p in tag_puts[: TRANSACTION_ITEMS - 1]]
            try:
                self._transact(first)
            except _Cancelled as exc:
                if exc.codes and exc.codes[0] == "ConditionalCheckFailed":
                    continue  # the counter was behind the stored runs: take the next number
                raise exc.as_error(f"create run {number} of {flow}", self) from None
            self._batch_write(tag_puts[TRANSACTION_ITEMS - 1 :])
            return RunRecord(
                flow, str(number), user, RUNNING, now, None, now, sorted(system_tags),
                sorted(tags), origin_run_id,
            )
        raise MetadataError(f"Could not allocate a run id for {flow} in table {self.table}.")

    def run_items(
        self, flow: str, number: int, user: str, system_tags: list[str], tags: list[str],
        origin_run_id: str | None, now: float,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The run item and its tag items (also used by the bench to bulk-load runs)."""
        run_item = {
            "pk": _S(f"FLOW#{flow}"), "sk": _S(f"RUN#{_run_no(number)}"), "type": _S("run"),
            "flow": _S(flow), "run_number": _N(number), "user": _S(user),
            "status": _S(RUNNING), "created": _N(now), "heartbeat": _N(now),
        }
        if system_tags:
            run_item["system_tags"] = {"SS": system_tags}
        if tags:
            run_item["tags"] = {"SS": tags}
        if origin_run_id is not None:
            run_item["origin_run_id"] = _S(str(origin_run_id))
        tag_items = [self._tag_item(flow, number, t, t in system_tags) for t in system_tags + tags]
        return run_item, tag_items

    def _tag_item(self, flow: str, number: int | str, tag: str, system: bool) -> dict[str, Any]:
        return {
            "pk": _S(_run_pk(flow, number)), "sk": _S(f"TAG#{tag}"), "type": _S("tag"),
            "gsi1pk": _S(f"TAG#{flow}#{tag}"), "gsi1sk": _S(_run_no(number)),
            "tag": _S(tag), "system": {"BOOL": system},
        }

    def _run_key(self, flow: str, run_id: str) -> dict[str, Any]:
        return {"pk": _S(f"FLOW#{flow}"), "sk": _S(f"RUN#{_run_no(run_id)}")}

    def _update_run(self, flow: str, run_id: str, expression: str, values: dict) -> None:
        missing = RunNotFoundError(f"Run {flow}/{run_id} does not exist in {self.table}.")
        if not _is_run_id(run_id):
            raise missing
        kwargs: dict[str, Any] = {
            "TableName": self.table, "Key": self._run_key(flow, run_id),
            "UpdateExpression": expression, "ConditionExpression": "attribute_exists(pk)",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        if "#s" in expression:
            kwargs["ExpressionAttributeNames"] = {"#s": "status"}
        try:
            self._call("update_item", **kwargs)
        except botocore.exceptions.ClientError:  # only a failed condition gets here
            raise missing from None

    def update_run(self, flow: str, run_id: str, status: str, finished: float | None) -> None:
        if finished is None:
            self._update_run(flow, run_id, "SET #s = :s REMOVE finished", {":s": _S(str(status))})
        else:
            self._update_run(flow, run_id, "SET #s = :s, finished = :f",
                             {":s": _S(str(status)), ":f": _N(finished)})

    def heartbeat(self, flow: str, run_id: str) -> None:
        self._update_run(flow, run_id, "SET heartbeat = :h", {":h": _N(time.time())})

    def add_tags(self, flow: str, run_id: str, tags: list[str]) -> None:
        run = self.get_run(flow, run_id)
        if run is None:
            raise RunNotFoundError(f"Run {flow}/{run_id} does not exist in {self.table}.")
        # Not filtered by the tags read above: ADD and Put are idempotent, and a tag that a
        # concurrent remove_tags took away after that read must still be added.
        new = [t for t in dict.fromkeys(tags) if t not in run.system_tags]
        for i in range(0, len(new), TRANSACTION_ITEMS - 1):
            part = new[i : i + TRANSACTION_ITEMS - 1]
            items = [{"Update": {
                "TableName": self.table, "Key": self._run_key(flow, run_id),
                "UpdateExpression": "ADD tags :t",
                "ExpressionAttributeValues": {":t": {"SS": part}},
                "ConditionExpression": "attribute_exists(pk)",
            }}]
            items += [{"Put": {"TableName": self.table,
                               "Item": self._tag_item(flow, run_id, t, False)}} for t in part]
            try:
                self._transact(items)
            except _Cancelled as exc:
                raise exc.as_error(f"add tags to {flow}/{run_id}", self) from None

    def remove_tags(self, flow: str, run_id: str, tags: list[str]) -> None:
        run = self.get_run(flow, run_id)
        if run is None:
            raise RunNotFoundError(f"Run {flow}/{run_id} does not exist in {self.table}.")
        gone = [t for t in dict.fromkeys(tags) if t in run.tags]
        for i in range(0, len(gone), TRANSACTION_ITEMS - 1):
            part = gone[i : i + TRANSACTION_ITEMS - 1]
            items = [{"Update": {
                "TableName": self.table, "Key": self._run_key(flow, run_id),
                "UpdateExpression": "DELETE tags :t",
                "ExpressionAttributeValues": {":t": {"SS": part}},
            }}]
            # The tag item leaves the tag index by losing its index keys (a sparse GSI), an
            # update like every other tag write: the task role has no dynamodb:DeleteItem, and
            # a concurrent add_tags of the same tag (a Put) is ordered against it by the
            # transactions, so neither loses the other's change.
            items += [{"Update": {"TableName": self.table, "Key": {
                "pk": _S(_run_pk(flow, run_id)), "sk": _S(f"TAG#{t}")},
                "UpdateExpression": "SET removed = :yes REMOVE gsi1pk, gsi1sk",
                "ExpressionAttributeValues": {":yes": {"BOOL": True}}}} for t in part]
            try:
                self._transact(items)
            except _Cancelled as exc:
                raise exc.as_error(f"remove tags from {flow}/{run_id}", self) from None

    def _run_from_item(self, item: dict) -> RunRecord:
        return RunRecord(
            flow=item["flow"]["S"],
            run_id=str(int(item["run_number"]["N"])),
            user=item["user"]["S"],
            status=item["status"]["S"],
            created=float(item["created"]["N"]),
            finished=_num(item, "finished"),
            heartbeat=_num(item, "heartbeat"),
            system_tags=sorted(item.get("system_tags", {}).get("SS", [])),
            tags=sorted(item.get("tags", {}).get("SS", [])),
            origin_run_id=_str(item, "origin_run_id"),
            retention=_str(item, "retention"),
            removed_at=_num(item, "removed_at"),
        )

    def get_run(self, flow: str, run_id: str) -> RunRecord | None:
        if not _is_run_id(run_id):
            return None
        item = self._call("get_item", TableName=self.table, Key=self._run_key(flow, run_id),
                          ConsistentRead=True).get("Item")
        return self._run_from_item(item) if item else None

    def list_runs(
        self, flow: str, tags: list[str] | None = None, limit: int | None = None
    ) -> Iterator[RunRecord]:
        tags = list(dict.fromkeys(tags or []))
        first_page = min(limit, FIRST_PAGE) if limit is not None else FIRST_PAGE
        if not tags:
            for item in self._query(
                limit=limit, first_page=first_page,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
                ExpressionAttributeValues={":pk": _S(f"FLOW#{flow}"), ":p": _S("RUN#")},
                ScanIndexForward=False,
            ):
                yield self._run_from_item(item)
            return
        yield from self._runs_by_tags(flow, tags, limit, first_page)

    def _runs_by_tags(
        self, flow: str, tags: list[str], limit: int | None, first_page: int
    ) -> Iterator[RunRecord]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": "gsi1", "ScanIndexForward": False,
            "KeyConditionExpression": "gsi1pk = :g",
            "ExpressionAttributeValues": {":g": _S(f"TAG#{flow}#{tags[0]}")},
            "ProjectionExpression": "gsi1sk",
        }
        page = first_page
        yielded = 0
        while True:
            kwargs["Limit"] = page
            response = self._call("query", **kwargs)
            numbers = [item["gsi1sk"]["S"] for item in response.get("Items", [])]
            if numbers:
                items = self._batch_get(
                    [{"pk": _S(f"FLOW#{flow}"), "sk": _S(f"RUN#{n}")} for n in numbers]
                )
                for item in sorted(items, key=lambda i: i["sk"]["S"], reverse=True):
                    run = self._run_from_item(item)
                    have = set(run.system_tags) | set(run.tags)
                    if all(t in have for t in tags):
                        yield run
                        yielded += 1
                        if limit is not None and yielded >= limit:
                            return
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last
            page = min(page * 5, MAX_PAGE // 5 if len(tags) == 1 else MAX_PAGE)

    def list_flows(self) -> list[str]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _S("FLOWS")},
        )
        return sorted(item["flow"]["S"] for item in items)

    # -- tasks -----------------------------------------------------------------------------
    def _task_key(self, flow: str, run_id: str, step: str, task_id: str) -> dict[str, Any]:
        return {"pk": _S(_run_pk(flow, run_id)), "sk": _S(f"TASK#{step}#{task_id}")}

    def _attempt_key(self, flow: str, run_id: str, step: str, task_id: str, attempt: int
                     ) -> dict[str, Any]:
        return {"pk": _S(_run_pk(flow, run_id)),
                "sk": _S(f"ATTEMPT#{step}#{task_id}#{_att_no(attempt)}")}

    def _task_item(self, t: TaskRecord, status: str, attempts: int = 0,
                   finished: float | None = None) -> dict[str, Any]:
        item = {
            **self._task_key(t.flow, t.run_id, t.step, t.task_id), "type": _S("task"),
            "flow": _S(t.flow), "run_number": _N(int(t.run_id)), "step": _S(t.step),
            "task_id": _S(str(t.task_id)), "status": _S(status), "created": _N(t.created),
            "foreach_stack": _J(t.foreach_stack), "input_paths": _J(t.input_paths),
            "attempts": _N(attempts),
        }
        if finished is not None:
            item["finished"] = _N(finished)
        if t.origin is not None:
            item["origin"] = _S(t.origin)
        if t.transition is not None:
            item["transition"] = _J(t.transition)
        return item

    def create_tasks(self, tasks: list[TaskRecord]) -> None:
        self._batch_write([
            {"PutRequest": {"Item": self._task_item(t, PENDING)}} for t in tasks
        ])

    def start_attempt(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int,
        restart: bool = False,
    ) -> None:
        where = task_path(flow, run_id, step, task_id)
        if not _is_run_id(run_id):
            raise TaskNotRegisteredError(f"Task {where} is not registered in {self.table}.")
        item = {
            **self._attempt_key(flow, run_id, step, task_id, attempt), "type": _S("attempt"),
            "flow": _S(flow), "run_number": _N(int(run_id)), "step": _S(step),
            "task_id": _S(str(task_id)), "attempt": _N(attempt), "status": _S(RUNNING),
            "started": _N(time.time()),
        }
        try:
            self._transact([
                {"Put": {"TableName": self.table, "Item": item,
                         "ConditionExpression": (
                             "attribute_not_exists(sk) OR #s = :s" if restart
                             else "attribute_not_exists(sk)"),
                         **({"ExpressionAttributeNames": {"#s": "status"},
                             "ExpressionAttributeValues": {":s": _S(RUNNING)}}
                            if restart else {})}},
                {"Update": {
                    "TableName": self.table, "Key": self._task_key(flow, run_id, step, task_id),
                    "UpdateExpression": "SET #s = :s, attempts = :n",
                    "ConditionExpression": "attribute_exists(sk)",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": _S(RUNNING), ":n": _N(attempt + 1)},
                }},
            ])
        except _Cancelled as exc:
            if exc.codes[:1] == ["ConditionalCheckFailed"]:
                raise AttemptAlreadyStartedError(
                    f"Attempt {attempt} of {where} was already started; a task attempt runs once."
                ) from None
            if exc.codes[1:2] == ["ConditionalCheckFailed"]:
                raise TaskNotRegisteredError(
                    f"Task {where} is not registered in {self.table}."
                ) from None
            raise exc.as_error(f"start attempt {attempt} of {where}", self) from None

    def attempt_heartbeat(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int
    ) -> None:
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._attempt_key(flow, run_id, step, task_id, attempt),
                UpdateExpression="SET heartbeat = :h", ConditionExpression="attribute_exists(sk)",
                ExpressionAttributeValues={":h": _N(time.time())},
            )
        except Exception as exc:  # noqa: BLE001 - translated below
            raise self.aws.wrap(exc, "dynamodb:UpdateItem (attempt heartbeat)",
                                f"table {self.table}", MetadataError) from None

    def _artifact_items(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int,
        artifacts: dict[str, ArtifactRef],
    ) -> list[dict[str, Any]]:
        parts: list[dict[str, list]] = []
        current: dict[str, list] = {}
        size = 0
        for name, ref in artifacts.items():
            entry = [ref.key, ref.size, ref.type, ref.encoding]
            n = len(json.dumps([name, entry]))
            if current and size + n > ARTIFACT_PART_BYTES:
                parts.append(current)
                current, size = {}, 0
            current[name] = entry
            size += n
        if current:
            parts.append(current)
        prefix = f"ARTS#{step}#{task_id}#{_att_no(attempt)}#"
        return [
            {"pk": _S(_run_pk(flow, run_id)), "sk": _S(f"{prefix}{i:03d}"),
             "type": _S("artifacts"), "a": _J(part)}
            for i, part in enumerate(parts)
        ]

    def _write_with(self, items: list[dict[str, Any]], final: list[dict[str, Any]], what: str,
                    refused: list[MetadataError | None]) -> None:
        """Write ``items`` (puts), then the ``final`` transaction items; in one transaction
        when everything fits, else the items first by parallel PutItems. ``refused[i]`` is the
        error to raise when the condition of ``final[i]`` fails (None: a generic one)."""
        puts = [{"Put": {"TableName": self.table, "Item": i}} for i in items]
        size = sum(len(json.dumps(i)) for i in items)
        together = len(puts) + len(final) <= TRANSACTION_ITEMS and size <= TRANSACTION_BYTES
        try:
            if together:
                self._transact(puts + final)
            else:
                self._batch_write([{"PutRequest": {"Item": i}} for i in items])
                self._transact(final)
        except _Cancelled as exc:
            final_codes = exc.codes[len(puts):] if together else exc.codes
            for code, error in zip(final_codes, refused, strict=False):
                if code == "ConditionalCheckFailed" and error is not None:
                    raise error from None
            raise exc.as_error(what, self) from None

    def finish_attempt(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        status: str,
        artifacts: dict[str, ArtifactRef],
        transition: dict[str, Any] | None,
        error: dict[str, Any] | None,
    ) -> None:
        if not _is_run_id(run_id):
            raise AttemptNotStartedError(
                f"Attempt {attempt} of {task_path(flow, run_id, step, task_id)} was never started."
            )
        status = str(status)
        now = time.time()
        attempt_set = "SET #s = :s, finished = :f" + (", #e = :e" if error else "")
        attempt_values = {":s": _S(status), ":f": _N(now)}
        if error:
            attempt_values[":e"] = _J(error)
        task_set = "SET #s = :s, finished = :f" + (", transition = :t" if transition else "")
        task_values = {":s": _S(status), ":f": _N(now)}
        if transition:
            task_values[":t"] = _J(transition)
        final = [
            {"Update": {
                "TableName": self.table,
                "Key": self._attempt_key(flow, run_id, step, task_id, attempt),
                "UpdateExpression": attempt_set, "ConditionExpression": "attribute_exists(sk)",
                "ExpressionAttributeNames": {"#s": "status", **({"#e": "error"} if error else {})},
                "ExpressionAttributeValues": attempt_values,
            }},
            {"Update": {
                "TableName": self.table, "Key": self._task_key(flow, run_id, step, task_id),
                "UpdateExpression": task_set, "ConditionExpression": "attribute_exists(sk)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": task_values,
            }},
        ]
        items = self._artifact_items(flow, run_id, step, task_id, attempt, artifacts)
        where = task_path(flow, run_id, step, task_id)
        not_started = AttemptNotStartedError(f"Attempt {attempt} of {where} was never started.")
        self._write_with(items, final, f"finish attempt {attempt} of {where}",
                         [not_started, None])

    def set_attempt_logs(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int, logs: dict[str, str]
    ) -> None:
        missing = AttemptNotStartedError(
            f"Attempt {attempt} of {task_path(flow, run_id, step, task_id)} was never started; "
            "it has no logs to attach."
        )
        if not _is_run_id(run_id):
            raise missing
        try:
            self._call(
                "update_item", TableName=self.table,
                Key=self._attempt_key(flow, run_id, step, task_id, attempt),
                UpdateExpression="SET logs = :l", ExpressionAttributeValues={":l": _J(logs)},
                # Without it an update of a missing attempt would create a stray item.
                ConditionExpression="attribute_exists(sk)",
            )
        except botocore.exceptions.ClientError:  # only a failed condition gets here
            raise missing from None

    def clone_task(
        self,
        source: TaskRecord,
        run_id: str,
        task_id: str,
        input_paths: list[str],
        foreach_stack: list[dict[str, Any]],
    ) -> None:
        artifacts = self.get_artifacts(source.flow, source.run_id, source.step, source.task_id)
        attempts = self.list_attempts(source.flow, source.run_id, source.step, source.task_id)
        done = next((a for a in reversed(attempts) if a.status == SUCCEEDED), None)
        attempt = done.attempt if done else 0
        now = time.time()
        task = TaskRecord(
            source.flow, run_id, source.step, task_id, SUCCEEDED, now, foreach_stack,
            input_paths, attempt + 1, now, source.pathspec, source.transition,
        )
        attempt_item = {
            **self._attempt_key(source.flow, run_id, source.step, task_id, attempt),
            "type": _S("attempt"), "flow": _S(source.flow), "run_number": _N(int(run_id)),
            "step": _S(source.step), "task_id": _S(str(task_id)), "attempt": _N(attempt),
            "status": _S(SUCCEEDED), "started": _N(done.started if done else now),
            "finished": _N((done.finished or now) if done else now),
        }
        if done and done.logs:
            attempt_item["logs"] = _J(done.logs)
        items = self._artifact_items(source.flow, run_id, source.step, task_id, attempt,
                                     artifacts)
        final = [
            {"Put": {"TableName": self.table, "Item": attempt_item}},
            {"Put": {"TableName": self.table,
                     "Item": self._task_item(task, SUCCEEDED, attempt + 1, now),
                     "ConditionExpression": "attribute_not_exists(sk)"}},
        ]
        taken = TaskExistsError(
            f"Task {task_path(source.flow, run_id, source.step, task_id)} already exists; a "
            "clone needs a new task id."
        )
        self._write_with(items, final, f"clone {source.pathspec} into run {run_id}",
                         [None, taken])

    def _task_from_item(self, item: dict) -> TaskRecord:
        return TaskRecord(
            flow=item["flow"]["S"],
            run_id=str(int(item["run_number"]["N"])),
            step=item["step"]["S"],
            task_id=item["task_id"]["S"],
            status=item["status"]["S"],
            created=float(item["created"]["N"]),
            foreach_stack=_json(item, "foreach_stack", []),
            input_paths=_json(item, "input_paths", []),
            attempts=int(item.get("attempts", {"N": "0"})["N"]),
            finished=_num(item, "finished"),
            origin=_str(item, "origin"),
            transition=_json(item, "transition"),
        )

    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord | None:
        if not _is_run_id(run_id):
            return None
        item = self._call(
            "get_item", TableName=self.table,
            Key=self._task_key(flow, run_id, step, str(task_id)), ConsistentRead=True,
        ).get("Item")
        return self._task_from_item(item) if item else None

    def list_tasks(self, flow: str, run_id: str, step: str | None = None) -> list[TaskRecord]:
        if not _is_run_id(run_id):
            return []
        prefix = f"TASK#{step}#" if step is not None else "TASK#"
        tasks = [self._task_from_item(i) for i in self._prefix_query(_run_pk(flow, run_id), prefix)]
        tasks.sort(key=lambda t: (t.created, _numeric(t.task_id)))
        return tasks

    def list_attempts(self, flow: str, run_id: str, step: str, task_id: str) -> list[AttemptRecord]:
        if not _is_run_id(run_id):
            return []
        items = self._prefix_query(_run_pk(flow, run_id), f"ATTEMPT#{step}#{task_id}#")
        return [
            AttemptRecord(
                flow=i["flow"]["S"], run_id=str(int(i["run_number"]["N"])), step=i["step"]["S"],
                task_id=i["task_id"]["S"], attempt=int(i["attempt"]["N"]),
                status=i["status"]["S"], started=float(i["started"]["N"]),
                finished=_num(i, "finished"), error=_json(i, "error"),
                logs=_json(i, "logs", {}), heartbeat=_num(i, "heartbeat"),
            )
            for i in items
        ]

    def get_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int | None = None
    ) -> dict[str, ArtifactRef]:
        if not _is_run_id(run_id):
            return {}
        task_id = str(task_id)
        if attempt is None:
            attempts = self.list_attempts(flow, run_id, step, task_id)
            if not attempts:
                return {}
            attempts.sort(key=lambda a: (a.status == SUCCEEDED, a.attempt))
            attempt = attempts[-1].attempt
        refs: dict[str, ArtifactRef] = {}
        for item in self._prefix_query(
            _run_pk(flow, run_id), f"ARTS#{step}#{task_id}#{_att_no(attempt)}#"
        ):
            for name, (key, size, typ, enc) in _json(item, "a", {}).items():
                refs[name] = ArtifactRef(key, int(size), typ, enc)
        return refs


    # -- pages and cards ---------------------------------------------------------------------
    def list_runs_page(
        self,
        flow: str,
        filter: RunFilter | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> RunPage:
        filter = filter or RunFilter()
        if before is not None and (not _is_run_id(before) or int(before) <= 1):
            return RunPage([], None)
        tags = list(filter.tags)
        if filter.user is not None:
            tags.append(f"user:{filter.user}")  # every run carries its user as a system tag
        if tags:
            return self._runs_page_by_tag(flow, filter, tags[0], before, limit)
        top = _run_no(int(before) - 1) if before is not None else "9" * RUN_DIGITS
        conditions, values = [], {
            ":pk": _S(f"FLOW#{flow}"), ":lo": _S("RUN#"), ":hi": _S(f"RUN#{top}"),
        }
        names = {}
        if filter.status is not None:
            conditions.append("#status = :status")
            names["#status"] = "status"
            values[":status"] = _S(filter.status)
        if filter.created_after is not None:
            conditions.append("created >= :after")
            values[":after"] = _N(float(filter.created_after))
        if filter.created_before is not None:
            conditions.append("created < :before")
            values[":before"] = _N(float(filter.created_before))
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ScanIndexForward": False, "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": values,
        }
        if conditions:
            kwargs["FilterExpression"] = " AND ".join(conditions)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        runs: list[RunRecord] = []
        examined = 0
        # Limit counts items examined before the filter: unfiltered, one request of ``limit``.
        page = limit + 1 if not conditions else min(MAX_PAGE, PAGE_SCAN)
        last_seen: str | None = None
        while True:
            kwargs["Limit"] = page
            response = self._call("query", **kwargs)
            examined += response.get("ScannedCount", 0)
            for item in response.get("Items", []):
                runs.append(self._run_from_item(item))
                if len(runs) > limit:
                    return RunPage(runs[:limit], runs[limit - 1].run_id)
            last = response.get("LastEvaluatedKey")
            if not last:
                return RunPage(runs, None)
            last_seen = str(int(last["sk"]["S"].split("#", 1)[1]))
            if examined >= PAGE_SCAN:
                return RunPage(runs, last_seen)
            kwargs["ExclusiveStartKey"] = last

    def _runs_page_by_tag(
        self, flow: str, filter: RunFilter, tag: str, before: str | None, limit: int
    ) -> RunPage:
        values = {":g": _S(f"TAG#{flow}#{tag}")}
        condition = "gsi1pk = :g"
        if before is not None:
            condition += " AND gsi1sk < :b"
            values[":b"] = _S(_run_no(before))
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": "gsi1", "ScanIndexForward": False,
            "KeyConditionExpression": condition, "ExpressionAttributeValues": values,
            "ProjectionExpression": "gsi1sk",
        }
        runs: list[RunRecord] = []
        examined = 0
        while True:
            kwargs["Limit"] = min(MAX_PAGE, max(limit + 1, 100))
            response = self._call("query", **kwargs)
            numbers = [item["gsi1sk"]["S"] for item in response.get("Items", [])]
            examined += len(numbers)
            items = self._batch_get(
                [{"pk": _S(f"FLOW#{flow}"), "sk": _S(f"RUN#{n}")} for n in numbers]
            ) if numbers else []
            for item in sorted(items, key=lambda i: i["sk"]["S"], reverse=True):
                run = self._run_from_item(item)
                if filter.matches(run):
                    runs.append(run)
                    if len(runs) > limit:
                        return RunPage(runs[:limit], runs[limit - 1].run_id)
            last = response.get("LastEvaluatedKey")
            if not last:
                return RunPage(runs, None)
            if examined >= PAGE_SCAN:
                return RunPage(runs, str(int(numbers[-1])))
            kwargs["ExclusiveStartKey"] = last

    def put_card(self, card: CardRecord) -> None:
        item = {
            "pk": _S(_run_pk(card.flow, card.run_id)),
            "sk": _S(f"CARD#{card.step}#{card.task_id}#{_att_no(card.attempt)}#"
                     f"{card.index:04d}"),
            "type": _S("card"), "card_type": _S(card.type), "key": _S(card.key),
            "updated": _N(float(card.updated)), "attempt": _N(card.attempt),
            "index": _N(card.index),
        }
        if card.card_id is not None:
            item["card_id"] = _S(card.card_id)
        self._call("put_item", TableName=self.table, Item=item)

    def list_cards(self, flow: str, run_id: str, step: str, task_id: str) -> list[CardRecord]:
        if not _is_run_id(run_id):
            return []
        return [
            CardRecord(
                flow, str(int(run_id)), step, str(task_id), int(i["attempt"]["N"]),
                int(i["index"]["N"]), i["card_type"]["S"], i["key"]["S"],
                float(i["updated"]["N"]), _str(i, "card_id"),
            )
            for i in self._prefix_query(_run_pk(flow, run_id), f"CARD#{step}#{task_id}#")
        ]

    # -- retention -------------------------------------------------------------------------
    def run_blob_keys(self, flow: str, run_id: str) -> set[str]:
        """One paginated Query of the run's partition (artifact, attempt and card items)."""
        keys: set[str] = set()
        for item in self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={":pk": _S(_run_pk(flow, run_id)), ":a": _S("ARTS#"),
                                       ":b": _S("CARD#\uffff")},
            ProjectionExpression="sk, a, logs, #r, #k",
            ExpressionAttributeNames={"#r": "resources", "#k": "key"},
        ):
            if item["sk"]["S"].startswith("ARTS#"):
                keys.update(entry[0] for entry in _json(item, "a", {}).values())
            elif item["sk"]["S"].startswith("CARD#"):
                keys.add(item["key"]["S"])
            elif item["sk"]["S"].startswith("ATTEMPT#"):
                keys.update(_json(item, "logs", {}).values())
                package = _json(item, "resources", {}).get("code_package")
                if package:
                    keys.add(package)
        return keys

    def mark_run_removing(
        self, flow: str, run_id: str, when: float, protect_tags: list[str],
        crashed_before: float | None = None,
    ) -> bool:
        values: dict[str, Any] = {":removing": _S(REMOVING), ":t": _N(when),
                                  ":running": _S(RUNNING)}
        finished = "#s <> :running"
        if crashed_before is not None:  # or silent since before crashed_before
            values[":silent"] = _N(crashed_before)
            finished = ("(#s <> :running OR heartbeat < :silent OR "
                        "(attribute_not_exists(heartbeat) AND created < :silent))")
        protected = ""
        for i, tag in enumerate(protect_tags):
            values[f":p{i}"] = _S(tag)
            protected += f" AND NOT contains(tags, :p{i})"
        try:
            self._call(
                "update_item", TableName=self.table, Key=self._run_key(flow, run_id),
                UpdateExpression="SET retention = :removing, removed_at = :t",
                ConditionExpression=(
                    "attribute_exists(pk) AND (retention = :removing OR "
                    f"(attribute_not_exists(retention) AND {finished}{protected}))"),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
            )
        except botocore.exceptions.ClientError:  # only a failed condition gets here
            return False
        return True

    def finish_run_removal(self, flow: str, run_id: str) -> None:
        """Deletes the run's partition (BatchWriteItem, 25 per request; needs
        dynamodb:BatchWriteItem delete rights: an operator's credentials), then marks the run
        item REMOVED. Re-running after an interruption deletes what is left."""
        keys = [{"pk": item["pk"], "sk": item["sk"]} for item in self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _S(_run_pk(flow, run_id))},
            ProjectionExpression="pk, sk",
        )]
        self._batch_delete(keys)
        self._update_run(flow, run_id, "SET retention = :r", {":r": _S(REMOVED)})

    # -- cost --------------------------------------------------------------------------------
    def set_attempt_resources(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int,
        resources: dict[str, Any],
    ) -> None:
        self._call(
            "update_item", TableName=self.table,
            Key=self._attempt_key(flow, run_id, step, str(task_id), attempt),
            UpdateExpression="SET #r = :r", ConditionExpression="attribute_exists(sk)",
            ExpressionAttributeNames={"#r": "resources"},
            ExpressionAttributeValues={":r": _J(resources)},
        )

    def run_attempt_resources(self, flow: str, run_id: str) -> dict[tuple[str, str, int], dict]:
        out = {}
        for item in self._prefix_query(
            _run_pk(flow, run_id), "ATTEMPT#", ProjectionExpression="#s, #t, #a, #r",
            ExpressionAttributeNames={"#s": "step", "#t": "task_id", "#a": "attempt",
                                      "#r": "resources"},
        ):
            if "resources" in item:
                out[(item["step"]["S"], item["task_id"]["S"], int(item["attempt"]["N"]))] = (
                    _json(item, "resources"))
        return out


class _Cancelled(Exception):
    def __init__(self, codes: list[str], exc: botocore.exceptions.ClientError) -> None:
        super().__init__(str(exc))
        self.codes = codes
        self.exc = exc

    def as_error(self, what: str, store: DynamoDBMetadataStore) -> MetadataError:
        return MetadataError(
            f"DynamoDB rejected the write to {what} in table '{store.table}' "
            f"(reasons: {', '.join(self.codes) or self.exc}). Retry; if it persists, check "
            "for another process writing the same run."
        )


def _numeric(task_id: str) -> tuple[int, str]:
    return (int(task_id), "") if task_id.isdigit() else (1 << 62, task_id)
