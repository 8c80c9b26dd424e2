"""Task, attempt, artifact and card items of the DynamoDB metadata store (the item layout and
access patterns are documented in this package's ``__init__``)."""

from __future__ import annotations

import json
import time
from typing import Any

import botocore.exceptions

from flowlib.datastore.artifacts import ArtifactRef
from flowlib.exceptions import MetadataError
from flowlib.metadata.base import (
    AttemptAlreadyStartedError,
    AttemptNotStartedError,
    TaskExistsError,
    TaskNotRegisteredError,
    task_id_order,
    task_path,
)
from flowlib.metadata.dynamodb.items import (
    _J,
    _N,
    _S,
    ARTIFACT_PART_BYTES,
    TRANSACTION_BYTES,
    TRANSACTION_ITEMS,
    _att_no,
    _is_run_id,
    _json,
    _num,
    _run_pk,
    _str,
)
from flowlib.metadata.dynamodb.table import (
    PARALLEL_CALLS,
    DynamoDBTable,
    TransactionCancelled,
)
from flowlib.metadata.records import (
    PENDING,
    RUNNING,
    SUCCEEDED,
    AttemptRecord,
    CardRecord,
    TaskRecord,
)


class DynamoDBTasks(DynamoDBTable):
    """The task half of :class:`~flowlib.metadata.base.MetadataStore` on one DynamoDB table."""

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
        except TransactionCancelled as exc:
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
        except TransactionCancelled as exc:
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

    def get_tasks(self, flow: str, run_id: str, keys: list[tuple[str, str]]
                  ) -> list[TaskRecord | None]:
        """BatchGetItem, 100 keys per request (consistent reads, like ``get_task``)."""
        if not _is_run_id(run_id) or not keys:
            return [None] * len(keys)
        wanted = [self._task_key(flow, run_id, step, str(task_id)) for step, task_id in keys]
        unique = list({k["sk"]["S"]: k for k in wanted}.values())
        found = {item["sk"]["S"]: self._task_from_item(item) for item in self._batch_get(unique)}
        return [found.get(k["sk"]["S"]) for k in wanted]

    def get_tasks_artifacts(self, flow: str, run_id: str, keys: list[tuple[str, str]]
                            ) -> list[dict[str, ArtifactRef]]:
        """Each task's two queries (attempts, then artifacts) in parallel across tasks."""
        def read(key: tuple[str, str]) -> dict[str, ArtifactRef]:
            return self.get_artifacts(flow, run_id, *key)

        if len(keys) <= 1:
            return [read(key) for key in keys]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(PARALLEL_CALLS, len(keys)), "flowlib-ddb-read") as pool:
            return list(pool.map(read, keys))

    def list_tasks(self, flow: str, run_id: str, step: str | None = None) -> list[TaskRecord]:
        if not _is_run_id(run_id):
            return []
        prefix = f"TASK#{step}#" if step is not None else "TASK#"
        tasks = [self._task_from_item(i) for i in self._prefix_query(_run_pk(flow, run_id), prefix)]
        tasks.sort(key=lambda t: (t.created, task_id_order(t.task_id)))
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
