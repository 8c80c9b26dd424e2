"""What retention (gc) and cost read and write in the DynamoDB metadata store: a run's blob keys,
removal marks, and the resources each attempt used."""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from flowlib.metadata.dynamodb.items import (
    _J,
    _N,
    _S,
    _json,
    _run_pk,
)
from flowlib.metadata.dynamodb.table import DynamoDBTable
from flowlib.metadata.records import (
    REMOVED,
    REMOVING,
    RUNNING,
)


class DynamoDBRetention(DynamoDBTable):
    """Retention and cost methods of :class:`~flowlib.metadata.base.MetadataStore` on DynamoDB."""

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
        self, flow: str, run_id: str, when: float, protect_tags: list[str]
    ) -> bool:
        values: dict[str, Any] = {":removing": _S(REMOVING), ":t": _N(when),
                                  ":running": _S(RUNNING)}
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
                    f"(attribute_not_exists(retention) AND #s <> :running{protected}))"),
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
