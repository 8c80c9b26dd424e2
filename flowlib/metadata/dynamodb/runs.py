"""Run items of the DynamoDB metadata store: run ids, status, heartbeats, tags and run
listings (the item layout and access patterns are documented in this package's ``__init__``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import botocore.exceptions

from flowlib.exceptions import MetadataError
from flowlib.metadata.base import (
    RunNotFoundError,
)
from flowlib.metadata.dynamodb.items import (
    _N,
    _S,
    FIRST_PAGE,
    MAX_PAGE,
    PAGE_SCAN,
    RUN_DIGITS,
    TRANSACTION_ITEMS,
    _is_run_id,
    _num,
    _run_no,
    _run_pk,
    _str,
)
from flowlib.metadata.dynamodb.table import DynamoDBTable, TransactionCancelled
from flowlib.metadata.records import (
    RUNNING,
    RunFilter,
    RunPage,
    RunRecord,
)


class DynamoDBRuns(DynamoDBTable):
    """The run half of :class:`~flowlib.metadata.base.MetadataStore` on one DynamoDB table."""

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
            except TransactionCancelled as exc:
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
            except TransactionCancelled as exc:
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
            except TransactionCancelled as exc:
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
