"""Blob store on S3: ``s3://<bucket>/<prefix>/<flow>/data/<key[:2]>/<key>``.

The layout and the guarantees are the local store's (see ``base``):

* Content-addressed and deduplicated: ``put`` HEADs the key first (``ChecksumMode=ENABLED``)
  and uploads nothing only when the object there carries the SHA-256 checksum of the bytes being
  written. Every upload sends that checksum (per part for multipart uploads), S3 verifies the
  body against it and keeps it with the object, so a HEAD proves the content without a
  download; an object overwritten with other bytes of the same size, or written without a
  checksum, is replaced by the next write of the right content.
* Atomic from a reader's view: S3 shows an object only once its PutObject or
  CompleteMultipartUpload succeeded; a failed multipart upload is aborted (and the bucket's
  lifecycle rule removes parts of an upload whose process died).
* Verified on read: the bytes are hashed (BLAKE3) and compared with the key before any
  decoding; a mismatch raises ``CorruptArtifactError``.

Transfers, without an extra full copy in memory:

* Upload: objects up to ``s3_transfer.PART_SIZE`` go up in one PutObject. Larger ones use a
  multipart upload with ``CONCURRENCY`` parts in flight; each part's body is a seekable reader
  over memoryview slices of the encoded chunks (no join, no copy: botocore reads it straight
  into the socket and can rewind it to retry). The byte plumbing is ``s3_transfer``'s.
* Download: one ranged GET of the first part tells the size (Content-Range); small objects are
  done in that one request. For larger ones one buffer of the full size is allocated and the
  remaining ranges are fetched in parallel straight into their slice of it.

Encryption: when the profile names ``s3_kms_key_arn``, every PutObject and
CreateMultipartUpload sends ``x-amz-server-side-encryption: aws:kms`` with that key id, which a
bucket policy requiring SSE-KMS with its own key accepts. Without a key in the profile no SSE
header is sent, so the bucket's default encryption (the Terraform module's KMS key) applies:
sending ``aws:kms`` alone would encrypt with the AWS-managed ``aws/s3`` key instead.
UploadPart and GetObject need no SSE header for SSE-KMS.

Retries: botocore ``standard`` mode, 4 attempts (see ``flowlib.config.aws``), per request, so a
throttled part is retried alone. Any other failure aborts the multipart upload and raises; the
task then fails before its outcome is recorded, so it is never marked done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.exceptions

from flowlib.config.aws import AwsContext
from flowlib.datastore import s3_transfer
from flowlib.datastore.base import BlobInfo, BlobStore, check_entry_name
from flowlib.datastore.hashing import content_key, is_content_key
from flowlib.datastore.s3_transfer import (
    STREAM_ERRORS,
    Checksums,
    ChunkReader,
    as_views,
    checksums_of,
    part_size_for,
    read_into,
    same_checksum,
    slice_views,
)
from flowlib.exceptions import ArtifactError, CorruptArtifactError, NotFoundError

CONCURRENCY = 10
_BODY_ATTEMPTS = 3
DELETE_BATCH = 1000  # DeleteObjects' limit per request


class S3BlobStore(BlobStore):
    def __init__(self, aws: AwsContext, bucket: str, prefix: str, flow_name: str) -> None:
        super().__init__(flow_name)
        self.aws = aws
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        base = f"{self.prefix}/" if self.prefix else ""
        self.data_prefix = f"{base}{flow_name}/data/"
        kms = aws.profile["s3_kms_key_arn"]
        self.sse_args = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms} if kms else {}
        self._pools: dict[int, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    @property
    def root_url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def at_root(self, root_url: str) -> BlobStore | None:
        if not root_url.startswith("s3://"):
            return None
        bucket, _, prefix = root_url.removeprefix("s3://").partition("/")
        return S3BlobStore(self.aws, bucket, prefix, self.flow_name)

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    def object_key(self, key: str) -> str:
        return f"{self.data_prefix}{key[:2]}/{key}"

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def _entry_key(self, name: str) -> str:
        return f"{self.data_prefix.removesuffix('data/')}entries/{check_entry_name(name)}"

    def read_entry(self, name: str) -> bytes | None:
        key = self._entry_key(name)
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._error(exc, "s3:GetObject", name) from None

    def write_entry(self, name: str, data: bytes) -> None:
        key = self._entry_key(name)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data,
                               **self.sse_args)
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "s3:PutObject", name) from None

    def list_entries(self, folder: str) -> list[str]:
        root = self._entry_key("x")[:-1]
        names = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=root + check_entry_name(folder.rstrip("/")) + "/"):
                names += [item["Key"][len(root):] for item in page.get("Contents", [])]
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "s3:ListBucket", folder) from None
        return sorted(names)

    def delete_entry(self, name: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self._entry_key(name))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "s3:DeleteObject", name) from None

    def preflight(self) -> None:
        """HeadBucket: the bucket exists, these credentials reach it, in the profile's region."""
        self.aws.check_bucket()

    def _pool(self) -> ThreadPoolExecutor:
        import os

        pid = os.getpid()
        pool = self._pools.get(pid)
        if pool is None:
            with self._lock:
                pool = self._pools.get(pid)
                if pool is None:
                    self._pools = {pid: ThreadPoolExecutor(CONCURRENCY, "flowlib-s3")}
                    pool = self._pools[pid]
        return pool

    def _error(self, exc: BaseException, action: str, key: str) -> Exception:
        return self.aws.wrap(exc, action, self.location(key), ArtifactError)

    # -- BlobStore ---------------------------------------------------------------------------
    def _stored_intact(self, key: str, chunks: Sequence[Any], size: int) -> bool:
        # A HEAD with ChecksumMode returns the SHA-256 S3 verified when the object was written:
        # equal to the checksum of what we are writing proves the stored bytes are these, without
        # downloading them. A same-size object with other bytes, or one written without a
        # checksum, is overwritten (healed) by this write.
        try:
            head = self.s3.head_object(
                Bucket=self.bucket, Key=self.object_key(key), ChecksumMode="ENABLED"
            )
        except botocore.exceptions.ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or exc.response.get("Error", {}).get("Code") in ("404", "NotFound"):
                return False
            if status == 403:
                # S3 answers 403, not 404, for a missing key when s3:ListBucket does not cover
                # it. Not proven present, so write it: an idempotent PUT of the same bytes, and
                # a caller really denied gets the PutObject's own AccessDenied.
                return False
            raise self._error(exc, "s3:GetObject (HeadObject; a missing key needs "
                              "s3:ListBucket to answer 404)", key) from None
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "s3:GetObject (HeadObject)", key) from None
        if int(head["ContentLength"]) != size:
            return False
        if self._is_stale(head["LastModified"].timestamp()):
            # Old enough for gc to delete: write it again, a new version gc's delete (of the
            # versions it listed) never touches. Costs one upload per refresh_after per blob.
            return False
        stored = head.get("ChecksumSHA256")
        return bool(stored) and same_checksum(stored, self._checksums(as_views(chunks), size))

    def _checksums(self, views: list[memoryview], size: int) -> Checksums:
        return checksums_of(views, size, self._pool())

    def _write(self, key: str, chunks: Sequence[Any], size: int) -> None:
        views = as_views(chunks)
        object_key = self.object_key(key)
        try:
            sums = self._checksums(views, size)
            if size <= s3_transfer.PART_SIZE:
                # S3 verifies the body against ChecksumSHA256 and refuses a mismatch, then keeps
                # it with the object (HeadObject with ChecksumMode returns it).
                self.s3.put_object(
                    Bucket=self.bucket, Key=object_key, Body=ChunkReader(views),
                    ContentLength=size, ChecksumAlgorithm="SHA256", ChecksumSHA256=sums.object,
                    **self.sse_args,
                )
            else:
                self._multipart_upload(object_key, views, size, sums)
        except Exception as exc:  # noqa: BLE001 - every failure is reported as the user's error
            raise self._error(exc, "s3:PutObject", key) from None

    def _multipart_upload(
        self, object_key: str, views: list[memoryview], size: int, sums: Checksums
    ) -> None:
        s3 = self.s3
        upload_id = s3.create_multipart_upload(
            Bucket=self.bucket, Key=object_key, ChecksumAlgorithm="SHA256",
            ChecksumType="COMPOSITE", **self.sse_args,
        )["UploadId"]
        part = part_size_for(size)
        ranges = [(i + 1, start, min(start + part, size))
                  for i, start in enumerate(range(0, size, part))]

        def upload(number: int, start: int, end: int) -> dict[str, Any]:
            checksum = sums.parts[number - 1]
            response = s3.upload_part(
                Bucket=self.bucket, Key=object_key, UploadId=upload_id, PartNumber=number,
                Body=ChunkReader(slice_views(views, start, end)), ContentLength=end - start,
                ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
            )
            return {"PartNumber": number, "ETag": response["ETag"],
                    "ChecksumSHA256": response.get("ChecksumSHA256") or checksum}

        futures: list[Any] = []
        try:
            futures = [self._pool().submit(upload, *r) for r in ranges]
            parts = [f.result() for f in futures]
            s3.complete_multipart_upload(
                Bucket=self.bucket, Key=object_key, UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            for f in futures:
                f.cancel()
            try:
                s3.abort_multipart_upload(Bucket=self.bucket, Key=object_key, UploadId=upload_id)
            except Exception:  # noqa: BLE001 - the lifecycle rule cleans up what this can't
                pass
            raise

    def _read_verified(self, key: str) -> memoryview:
        object_key = self.object_key(key)
        try:
            for attempt in range(_BODY_ATTEMPTS):
                try:
                    data = self._download(object_key)
                    break
                except STREAM_ERRORS:
                    if attempt + 1 == _BODY_ATTEMPTS:
                        raise
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise NotFoundError(
                    f"object {key} is missing from the datastore at {self.location(key)}; it "
                    "may have been deleted."
                ) from None
            raise self._error(exc, "s3:GetObject", key) from None
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "s3:GetObject", key) from None
        if content_key([data]) != key:
            raise CorruptArtifactError(
                f"object {key} at {self.location(key)} is corrupted (content hash differs)"
            )
        return data

    def _download(self, object_key: str) -> memoryview:
        s3 = self.s3
        try:
            first = s3.get_object(
                Bucket=self.bucket, Key=object_key, Range=f"bytes=0-{s3_transfer.PART_SIZE - 1}"
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidRange":
                raise
            first = s3.get_object(Bucket=self.bucket, Key=object_key)  # the empty object
        content_range = first.get("ContentRange")  # "bytes 0-N/TOTAL"
        length = int(first["ContentLength"])
        total = int(content_range.rsplit("/", 1)[1]) if content_range else length
        # One writable buffer (numpy arrays decoded on it stay writable, as with the local
        # store); every range is read straight into its slice.
        view = memoryview(bytearray(total))
        read_into(first["Body"], view[:length])
        if total <= length:
            return view
        part = part_size_for(total)
        ranges = [(start, min(start + part, total)) for start in range(length, total, part)]

        def fetch(start: int, end: int) -> None:
            # botocore retries the request; a connection lost while streaming the body is
            # retried here.
            for attempt in range(_BODY_ATTEMPTS):
                response = s3.get_object(
                    Bucket=self.bucket, Key=object_key, Range=f"bytes={start}-{end - 1}",
                    IfMatch=first["ETag"],
                )
                try:
                    read_into(response["Body"], view[start:end])
                    return
                except STREAM_ERRORS:
                    if attempt + 1 == _BODY_ATTEMPTS:
                        raise

        futures = [self._pool().submit(fetch, *r) for r in ranges]
        for f in futures:
            f.result()
        return view

    # -- retention ---------------------------------------------------------------------------
    def list_blobs(self) -> Iterator[BlobInfo]:
        """ListObjectVersions over the flow's data prefix (1,000 versions per request): each
        blob with its current version's size and date and every version id seen, so the delete
        removes those versions and never one a concurrent write adds (on a bucket without
        versioning the only id is "null" and that guarantee is lost: the stack's bucket is
        versioned)."""
        paginator = self.s3.get_paginator("list_object_versions")
        current: dict[str, Any] = {}
        versions: dict[str, list[str]] = {}
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.data_prefix):
                for version in page.get("Versions", []):
                    key = version["Key"].rsplit("/", 1)[-1]
                    if not is_content_key(key):
                        continue
                    versions.setdefault(key, []).append(version["VersionId"])
                    if version.get("IsLatest"):
                        current[key] = version
        except Exception as exc:  # noqa: BLE001
            raise self.aws.wrap(exc, "s3:ListBucketVersions",
                                f"s3://{self.bucket}/{self.data_prefix}",
                                ArtifactError) from None
        for key, version in current.items():  # a key whose latest is a delete marker is gone
            yield BlobInfo(key, int(version["Size"]), version["LastModified"].timestamp(),
                           tuple(versions[key]))

    def delete_blobs(self, blobs: Iterable[BlobInfo]) -> int:
        """DeleteObjects of the listed versions, 1,000 per request. Deleting a version frees
        its bytes at once (no delete marker) and spares a version written after the listing."""
        objects = [{"Key": self.object_key(b.key), **({"VersionId": v} if v else {})}
                   for b in blobs for v in (b.versions or ("",))]
        count = len({o["Key"] for o in objects})
        for i in range(0, len(objects), DELETE_BATCH):
            batch = objects[i : i + DELETE_BATCH]
            try:
                response = self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:  # noqa: BLE001
                raise self.aws.wrap(exc, "s3:DeleteObjectVersion (DeleteObjects)",
                                    f"s3://{self.bucket}/{self.data_prefix}",
                                    ArtifactError) from None
            errors = [e for e in response.get("Errors") or []
                      if e.get("Code") not in ("NoSuchKey", "NoSuchVersion")]
            if errors:
                first = errors[0]
                raise ArtifactError(
                    f"S3 refused to delete {len(errors)} of {len(batch)} objects under "
                    f"s3://{self.bucket}/{self.data_prefix} (first: {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}). gc needs "
                    "s3:DeleteObjectVersion and s3:ListBucketVersions: run it with an "
                    "operator's credentials, not the task role."
                )
        return count
