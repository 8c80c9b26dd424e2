"""Loaded by the moto server process only (this folder is put on its PYTHONPATH by
tests/remote/stepfunctions/conftest.py): fixes to the test double, never to the product.

moto 5.2's Step Functions interpreter has two gaps in its AWS Batch integration, both in
``StateTaskServiceBatch._eval_service_task``: it passes the state's ``Parameters`` with AWS's
PascalCase names (``JobName``, ``ContainerOverrides.Environment[].Name``) straight to boto3,
which wants the API's lowerCamel names, and ``.sync`` then reads ``JobId`` from the submit
response, which boto3 returns as ``jobId``. The patch lower-cases the first letter of every
key before the call (not inside ``Tags``, whose keys are the user's) and upper-cases the
response's keys after it. The state machines stay written exactly as for AWS.

A third gap shows on ``Retry``: for a ``.sync`` Batch task moto also listens for a task token
(Batch supports ``.waitForTaskToken`` too), on an endpoint keyed by the state's token that the
first attempt closes; the retried attempt's listener then returns at once as "timed out" and
the execution fails with ``States.Timeout``. AWS does not listen for a token on ``.sync``; the
patch drops the listener for ``.sync`` tasks.

A fourth shows under load: see ``_serialize_dynamodb_and_batch``; a fifth in StopExecution:
see ``_patch_stop_execution``.

Service integrations (DynamoDB GetItem, the Batch ``.sync`` poller) reach the server at
``localhost:$MOTO_PORT``; the server is started as ``moto_server -p PORT``, so MOTO_PORT is
set from that argument.
"""

from __future__ import annotations

import os
import sys


def _set_port() -> None:
    args = sys.argv
    for flag in ("-p", "--port"):
        if flag in args and args.index(flag) + 1 < len(args):
            os.environ.setdefault("MOTO_PORT", args[args.index(flag) + 1])


def _lower(value, inside_tags=False):  # noqa: ANN001, ANN202
    if isinstance(value, dict):
        if inside_tags:
            return dict(value)
        return {(k[:1].lower() + k[1:]): _lower(v, k == "Tags") for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value


def _upper(value):  # noqa: ANN001, ANN202
    if isinstance(value, dict):
        return {(k[:1].upper() + k[1:]): v for k, v in value.items()}
    return value


def _patch() -> None:
    try:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_batch as module,
        )
    except Exception:  # noqa: BLE001 - not a moto process, or another moto version
        return
    cls = module.StateTaskServiceBatch
    if getattr(cls, "_flowlib_patched", False):
        return

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters,  # noqa: ANN001
                           state_credentials):  # noqa: ANN001, ANN202
        client = module.boto_client_for(region=resource_runtime_part.region,
                                        service=self._get_boto_service_name(),
                                        state_credentials=state_credentials)
        response = getattr(client, self._get_boto_service_action())(
            **_lower(normalised_parameters))
        response.pop("ResponseMetadata", None)
        env.stack.append(_upper(response))

    cls._eval_service_task = _eval_service_task
    original_eval_sync = cls._eval_sync

    def _eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint,  # noqa: ANN001
                   heartbeat_endpoint):  # noqa: ANN001, ANN202
        if self.resource.condition == module.ResourceCondition.Sync:
            callback_endpoint = None
        return original_eval_sync(self, env=env, sync_resolver=sync_resolver,
                                  timeout_seconds=timeout_seconds,
                                  callback_endpoint=callback_endpoint,
                                  heartbeat_endpoint=heartbeat_endpoint)

    cls._eval_sync = _eval_sync
    cls._flowlib_patched = True


if "moto" in " ".join(sys.argv):
    _set_port()
    _patch()


def _patch_events() -> None:
    """moto's EventBridge answers PutEvents with a 500 (NotImplementedError) when a matching
    rule has a target it cannot deliver to, such as a Step Functions state machine: that
    target is skipped here, the others (SQS) still receive the event. The tests play the
    state machine delivery themselves (tests/remote/stepfunctions/test_sfn_triggers.py)."""
    from moto.events import models

    original = models.Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):  # noqa: ANN001, ANN202
        kept = self.targets
        self.targets = [t for t in kept if ":states:" not in t["Arn"]]
        try:
            return original(self, original_event, transform_input)
        finally:
            self.targets = kept

    models.Rule.send_to_targets = send_to_targets


def _patch_s3_notifications() -> None:
    """moto stores a bucket's EventBridgeConfiguration (and sends its events) but leaves it
    out of GetBucketNotificationConfiguration; AWS returns it (an empty element). Added back
    here so `step-functions create` can see that a bucket sends events to EventBridge."""
    from moto.core.responses import ActionResult
    from moto.s3 import responses

    original = responses.S3Response.get_bucket_notification

    def get_bucket_notification(self):  # noqa: ANN001, ANN202
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        serialized = self.serialized

        def with_event_bridge(result):  # noqa: ANN001, ANN202
            if isinstance(result, ActionResult) and isinstance(result.result, dict) and \
                    getattr(config, "event_bridge", None) is not None:
                result = ActionResult({**result.result, "EventBridgeConfiguration": {}})
            return serialized(result)

        self.serialized = with_event_bridge
        try:
            return original(self)
        finally:
            del self.serialized

    responses.S3Response.get_bucket_notification = get_bucket_notification


def _serialize_dynamodb_and_batch() -> None:
    """moto's DynamoDB ``TransactWriteItems`` deep-copies the tables it writes (to roll back)
    and its Batch ``DescribeJobs`` iterates over all jobs, while other request threads of the
    server change them: with tens of Step Functions tasks at once this fails with
    ``RuntimeError: dictionary changed size during iteration`` (HTTP 500), and a 500 on the
    ``.sync`` poller's DescribeJobs makes moto's Batch integration fail the whole execution
    (``KeyError('RequestId')``). AWS has no such race: here each of the two services serves
    one request at a time."""
    import threading

    from moto.batch import responses as batch
    from moto.dynamodb import responses as dynamodb

    for handler in (dynamodb.DynamoHandler, batch.BatchResponse):
        lock = threading.Lock()
        original = handler.call_action

        def call_action(self, _original=original, _lock=lock):  # noqa: ANN001, ANN202
            with _lock:
                return _original(self)

        handler.call_action = call_action


def _patch_stop_execution() -> None:
    """moto's StopExecution drops the request's ``error`` and ``cause`` (its
    ``StateMachine.stop_execution`` passes empty strings), so the execution's
    ExecutionAborted event has none; AWS records them. Passed through here."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.stepfunctions import models, responses

    original = models.StateMachine.stop_execution

    def machine_stop(self, execution_arn, error="", cause=""):  # noqa: ANN001, ANN202
        execution = next((x for x in self.executions if x.execution_arn == execution_arn),
                         None)
        if execution is None:
            return original(self, execution_arn)  # raises ExecutionDoesNotExist
        execution.stop(stop_date=utcnow(), error=error, cause=cause)
        return execution

    def backend_stop(self, execution_arn, error="", cause=""):  # noqa: ANN001, ANN202
        self._validate_execution_arn(execution_arn)
        machine = self._get_state_machine_for_execution(execution_arn)
        return machine.stop_execution(execution_arn, error, cause)

    def response_stop(self):  # noqa: ANN001, ANN202
        execution = self.stepfunction_backend.stop_execution(
            self._get_param("executionArn"), self._get_param("error") or "",
            self._get_param("cause") or "")
        return ActionResult({"stopDate": execution.stop_date})

    models.StateMachine.stop_execution = machine_stop
    models.StepFunctionBackend.stop_execution = backend_stop
    responses.StepFunctionResponse.stop_execution = response_stop


if "moto" in " ".join(sys.argv):
    _patch_events()
    _patch_s3_notifications()
    _serialize_dynamodb_and_batch()
    _patch_stop_execution()
