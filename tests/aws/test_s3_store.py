"""The S3 blob store against the moto server: layout, dedup, multipart, verification, SSE-KMS,
retries, failed uploads."""

from __future__ import annotations

import os

import botocore.awsrequest
import pytest

from flowlib.datastore import s3 as s3mod
from flowlib.datastore import s3_transfer
from flowlib.datastore.hashing import content_key
from flowlib.exceptions import CorruptArtifactError, FlowlibError, NotFoundError
from tests.aws.conftest import FLOWS


class RequestLog:
    """Records (operation, headers) of every HTTP request a store's clients send."""

    def __init__(self, aws) -> None:
        self.calls: list[tuple[str, dict]] = []
        aws.forget_clients()
        aws.event_hooks.append(("before-send.s3", self._record))

    def _record(self, request, **kwargs):
        op = kwargs.get("event_name", "").split(".")[-1]
        headers = {k: (v.decode() if isinstance(v, bytes) else v)
                   for k, v in request.headers.items()}
        self.calls.append((op, headers))

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]


def test_layout_matches_local_store_and_objects_are_kms_encrypted(aws, stores):
    blobs = stores.artifacts("F").blobs
    key = blobs.put([b"hello ", b"world"])
    assert key == content_key([b"hello world"])
    assert blobs.location(key) == (
        f"s3://{aws.stack.bucket}/{aws.prefix}/F/data/{key[:2]}/{key}"
    )
    head = aws.stack.client("s3").head_object(
        Bucket=aws.stack.bucket, Key=f"{aws.prefix}/F/data/{key[:2]}/{key}"
    )
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == aws.stack.kms_key_arn
    assert bytes(blobs.get(key)) == b"hello world"


def test_existing_objects_are_not_uploaded_again(aws, stores):
    blobs = stores.artifacts("F").blobs
    log = RequestLog(blobs.aws)
    key = blobs.put([os.urandom(1000)])
    assert log.ops() == ["HeadObject", "PutObject"]
    log.calls.clear()
    assert blobs.put([bytes(blobs.get(key))]) == key
    assert "PutObject" not in log.ops()


def test_large_values_use_parallel_multipart_and_round_trip(aws, stores, monkeypatch):
    monkeypatch.setattr(s3_transfer, "PART_SIZE", 5 << 20)  # S3's minimum part size
    blobs = stores.artifacts("F").blobs
    log = RequestLog(blobs.aws)
    data = os.urandom(23 << 20)
    # Encoded values arrive as several chunks; parts straddle chunk boundaries.
    chunks = [memoryview(data)[: 7 << 20], memoryview(data)[7 << 20 : 7 << 20 | 3],
              memoryview(data)[(7 << 20) + 3 :]]
    key = blobs.put(chunks)
    ops = log.ops()
    assert ops.count("UploadPart") == 5 and "CompleteMultipartUpload" in ops
    log.calls.clear()
    back = blobs.get(key)
    assert back.nbytes == len(data) and bytes(back) == data
    assert not back.readonly  # numpy arrays decoded on it stay writable
    assert log.ops().count("GetObject") == 5  # ranged GETs, no extra HEAD
    head = aws.stack.client("s3").head_object(Bucket=aws.stack.bucket,
                                              Key=blobs.object_key(key))
    assert head["SSEKMSKeyId"] == aws.stack.kms_key_arn


def test_corruption_is_detected_on_read(aws, stores):
    blobs = stores.artifacts("F").blobs
    key = blobs.put([b"precious bytes"])
    aws.stack.client("s3").put_object(
        Bucket=aws.stack.bucket, Key=blobs.object_key(key), Body=b"precious bytez"
    )
    with pytest.raises(CorruptArtifactError, match="corrupted"):
        blobs.get(key)


def test_missing_object_is_a_not_found_error(aws, stores):
    blobs = stores.artifacts("F").blobs
    with pytest.raises(NotFoundError, match="missing from the datastore"):
        blobs.get("ab" * 20)


def test_empty_blob(aws, stores):
    blobs = stores.artifacts("F").blobs
    key = blobs.put([b""])
    assert bytes(blobs.get(key)) == b""


def test_requests_satisfy_the_terraform_bucket_policy(aws, stores, monkeypatch):
    """moto ignores policy conditions, so evaluate the module's SSE-KMS conditions here on
    every write flowlib sends (small put and multipart)."""
    monkeypatch.setattr(s3_transfer, "PART_SIZE", 5 << 20)
    blobs = stores.artifacts("F").blobs
    log = RequestLog(blobs.aws)
    blobs.put([os.urandom(100)])
    blobs.put([os.urandom(11 << 20)])
    writes = [(op, h) for op, h in log.calls if op in ("PutObject", "CreateMultipartUpload")]
    assert {op for op, _ in writes} == {"PutObject", "CreateMultipartUpload"}
    for _, headers in writes:
        # StringNotEqualsIfExists: absent passes, present must equal.
        sse = headers.get("x-amz-server-side-encryption")
        kms = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
        assert sse in (None, "aws:kms") and kms in (None, aws.stack.kms_key_arn)
        assert sse == "aws:kms" and kms == aws.stack.kms_key_arn  # flowlib always sends both
    # TLS (aws:SecureTransport): without the test's AWS_ENDPOINT_URL, flowlib talks https.
    from flowlib.config.aws import AwsContext

    monkeypatch.delenv("AWS_ENDPOINT_URL")
    endpoint = AwsContext(stores.profile).client("s3").meta.endpoint_url
    assert endpoint.startswith("https://"), endpoint


def test_throttling_is_retried(aws, stores):
    blobs = stores.artifacts("F").blobs
    aws_ctx = blobs.aws
    aws_ctx.forget_clients()
    failures = {"left": 3}

    def throttle(request, **kwargs):
        if kwargs.get("event_name", "").endswith("PutObject") and failures["left"]:
            failures["left"] -= 1
            return botocore.awsrequest.AWSResponse(
                request.url, 503, {}, _Raw(b"<Error><Code>SlowDown</Code>"
                                           b"<Message>Reduce your request rate.</Message></Error>"),
            )
        return None

    aws_ctx.event_hooks.append(("before-send.s3", throttle))
    key = blobs.put([b"retried until it went through"])
    assert failures["left"] == 0
    assert bytes(blobs.get(key)) == b"retried until it went through"


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **kwargs):
        yield self._data

    def read(self, *args):
        data, self._data = self._data, b""
        return data


def test_failed_multipart_upload_is_aborted_and_leaves_nothing(aws, stores, monkeypatch):
    monkeypatch.setattr(s3_transfer, "PART_SIZE", 5 << 20)
    blobs = stores.artifacts("F").blobs
    blobs.aws.forget_clients()

    def fail_third_part(params, **kwargs):
        if params.get("PartNumber") == 3:
            raise RuntimeError("network went away")

    blobs.aws.event_hooks.append(("before-parameter-build.s3.UploadPart", fail_third_part))
    data = os.urandom(16 << 20)
    with pytest.raises(FlowlibError, match="network went away"):
        blobs.put([data])
    s3 = aws.stack.client("s3")
    uploads = s3.list_multipart_uploads(Bucket=aws.stack.bucket, Prefix=aws.prefix)
    assert not uploads.get("Uploads")
    listed = s3.list_objects_v2(Bucket=aws.stack.bucket, Prefix=aws.prefix)
    assert listed.get("KeyCount", 0) == 0


def test_chunk_reader_is_a_seekable_view():
    views = [memoryview(b"abc"), memoryview(b""), memoryview(b"defgh")]
    reader = s3_transfer.ChunkReader(views)
    assert reader.read(2) == b"ab" and reader.read(3) == b"cde" and reader.read() == b"fgh"
    reader.seek(0)
    assert reader.read() == b"abcdefgh"
    reader.seek(4)
    buf = bytearray(10)
    assert reader.readinto(buf) == 4 and bytes(buf[:4]) == b"efgh"
    assert s3_transfer.slice_views([memoryview(b"abc"), memoryview(b"defgh")], 2, 5) != []
    assert b"".join(bytes(v) for v in s3_transfer.slice_views(
        [memoryview(b"abc"), memoryview(b"defgh")], 2, 5)) == b"cde"


def test_a_denied_upload_fails_the_task_and_never_marks_it_done(aws):
    env = {"DENY_BUCKET": aws.stack.bucket, "DENY_PREFIX": aws.prefix}
    try:
        proc = aws.run(FLOWS / "deny_flow.py", "run", env=env, expect=None)
    finally:
        aws.stack.client("s3").delete_bucket_policy(Bucket=aws.stack.bucket)
    assert proc.returncode != 0
    assert "Access denied: s3:PutObject" in proc.stderr + proc.stdout
    from flowlib.stores import open_stores, reset_stores

    reset_stores()
    meta = open_stores().metadata
    run = next(meta.list_runs("DenyFlow"))
    assert run.status == "failed"
    task = meta.list_tasks("DenyFlow", run.run_id, "start")[0]
    assert task.status == "failed"
    assert [a.status for a in meta.list_attempts("DenyFlow", run.run_id, "start", task.task_id)
            ] == ["failed"]
    assert meta.get_artifacts("DenyFlow", run.run_id, "start", task.task_id) == {}


def test_a_connection_lost_mid_download_is_retried(aws, stores, monkeypatch):
    monkeypatch.setattr(s3_transfer, "PART_SIZE", 5 << 20)
    blobs = stores.artifacts("F").blobs
    data = os.urandom(12 << 20)
    key = blobs.put([data])
    real = s3mod.read_into
    failures = {"left": 2}

    def flaky(body, target):
        if failures["left"]:
            failures["left"] -= 1
            body.close()
            raise s3_transfer._ShortRead("connection closed early")
        return real(body, target)

    monkeypatch.setattr(s3mod, "read_into", flaky)
    assert bytes(blobs.get(key)) == data and failures["left"] == 0
