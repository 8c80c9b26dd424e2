"""Access to the DynamoDB metadata table shared by the store's halves: calls with error
translation, paginated queries, parallel PutItems, batch gets and deletes, transactions, preflight
and the item keys. The item layout is documented in ``flowlib/metadata/dynamodb/__init__.py``."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import botocore.exceptions

from flowlib.config.aws import AwsContext
from flowlib.exceptions import MetadataError
from flowlib.metadata.dynamodb.items import (
    _S,
    MAX_PAGE,
    _att_no,
    _run_no,
    _run_pk,
    check_table,
)

# Parallel calls of one bulk write (PutItems) or read (a join's inputs); the client pools 32
# connections.
PARALLEL_CALLS = 16


class DynamoDBTable:
    """One DynamoDB table as the metadata store reads and writes it."""


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

        with ThreadPoolExecutor(min(PARALLEL_CALLS, len(items)), "flowlib-ddb") as pool:
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
        """TransactWriteItems; a failed check raises TransactionCancelled with the reasons."""
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
            raise TransactionCancelled(codes, exc) from None

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

    def _tag_item(self, flow: str, number: int | str, tag: str, system: bool) -> dict[str, Any]:
        return {
            "pk": _S(_run_pk(flow, number)), "sk": _S(f"TAG#{tag}"), "type": _S("tag"),
            "gsi1pk": _S(f"TAG#{flow}#{tag}"), "gsi1sk": _S(_run_no(number)),
            "tag": _S(tag), "system": {"BOOL": system},
        }

    def _run_key(self, flow: str, run_id: str) -> dict[str, Any]:
        return {"pk": _S(f"FLOW#{flow}"), "sk": _S(f"RUN#{_run_no(run_id)}")}

    # -- tasks -----------------------------------------------------------------------------
    def _task_key(self, flow: str, run_id: str, step: str, task_id: str) -> dict[str, Any]:
        return {"pk": _S(_run_pk(flow, run_id)), "sk": _S(f"TASK#{step}#{task_id}")}

    def _attempt_key(self, flow: str, run_id: str, step: str, task_id: str, attempt: int
                     ) -> dict[str, Any]:
        return {"pk": _S(_run_pk(flow, run_id)),
                "sk": _S(f"ATTEMPT#{step}#{task_id}#{_att_no(attempt)}")}



class TransactionCancelled(Exception):
    def __init__(self, codes: list[str], exc: botocore.exceptions.ClientError) -> None:
        super().__init__(str(exc))
        self.codes = codes
        self.exc = exc

    def as_error(self, what: str, store: DynamoDBTable) -> MetadataError:
        return MetadataError(
            f"DynamoDB rejected the write to {what} in table '{store.table}' "
            f"(reasons: {', '.join(self.codes) or self.exc}). Retry; if it persists, check "
            "for another process writing the same run."
        )


