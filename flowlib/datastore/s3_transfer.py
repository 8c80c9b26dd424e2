"""The byte plumbing of S3 transfers (``flowlib.datastore.s3``): a seekable reader over
memoryview slices, so a multipart upload sends the encoded chunks without joining them; the
SHA-256 checksums S3 keeps per part and per object; and a ranged GET read straight into its
slice of one buffer, with the stream errors that make a range worth fetching again.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from flowlib.exceptions import ArtifactError

PART_SIZE = 8 << 20
MAX_PARTS = 10_000
_READ_BLOCK = 1 << 20


class _ShortRead(ArtifactError):
    """The connection closed before the whole range arrived."""


def _stream_errors() -> tuple[type[BaseException], ...]:
    import urllib3.exceptions

    return (
        _ShortRead, ConnectionError, TimeoutError, urllib3.exceptions.HTTPError,
        botocore.exceptions.ResponseStreamingError, botocore.exceptions.ReadTimeoutError,
    )


STREAM_ERRORS = _stream_errors()


class ChunkReader(io.RawIOBase):
    """A read-only, seekable file over a sequence of buffers (no copy until ``read``)."""

    def __init__(self, views: Sequence[memoryview]) -> None:
        super().__init__()
        self._views = [v for v in views if v.nbytes]
        self._starts = []
        total = 0
        for v in self._views:
            self._starts.append(total)
            total += v.nbytes
        self._size = total
        self._pos = 0
        self._index = 0

    def __len__(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        else:
            pos = self._size + offset
        self._pos = max(0, min(pos, self._size))
        self._index = 0
        while self._index + 1 < len(self._views) and self._starts[self._index + 1] <= self._pos:
            self._index += 1
        return self._pos

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        written = 0
        while written < out.nbytes and self._pos < self._size:
            view = self._views[self._index]
            offset = self._pos - self._starts[self._index]
            n = min(view.nbytes - offset, out.nbytes - written)
            out[written : written + n] = view[offset : offset + n]
            written += n
            self._pos += n
            if offset + n == view.nbytes and self._index + 1 < len(self._views):
                self._index += 1
        return written

    def read(self, size: int = -1) -> bytes:
        remaining = self._size - self._pos
        n = remaining if size is None or size < 0 else min(size, remaining)
        if n <= 0:
            return b""
        view = self._views[self._index]
        offset = self._pos - self._starts[self._index]
        if offset + n <= view.nbytes:  # the common case: within one buffer, one copy
            self._pos += n
            if offset + n == view.nbytes and self._index + 1 < len(self._views):
                self._index += 1
            return bytes(view[offset : offset + n])
        out = bytearray(n)
        self.readinto(out)
        return bytes(out)


def as_views(chunks: Sequence[Any]) -> list[memoryview]:
    return [memoryview(c).cast("B") if memoryview(c).format != "B" else memoryview(c)
            for c in chunks]


def slice_views(views: list[memoryview], start: int, end: int) -> list[memoryview]:
    """The memoryview slices covering bytes [start, end) of the concatenation of ``views``."""
    out = []
    pos = 0
    for v in views:
        v_end = pos + v.nbytes
        if v_end > start and pos < end:
            out.append(v[max(start - pos, 0) : min(end, v_end) - pos])
        pos = v_end
        if pos >= end:
            break
    return out


def part_size_for(size: int) -> int:
    part = PART_SIZE
    while (size + part - 1) // part > MAX_PARTS:
        part *= 2
    return part


@dataclass(frozen=True)
class Checksums:
    """Base64 SHA-256 checksums as S3 reports them: per part, and of the whole object (for a
    multipart upload, the checksum of the parts' digests followed by ``-<parts>``)."""

    parts: list[str]
    object: str


def same_checksum(stored: str, expected: Checksums) -> bool:
    # A multipart object's checksum reads "<digest of the parts' digests>-<parts>"; some S3
    # implementations (moto) leave out the "-<parts>" suffix on HeadObject.
    digest, _, parts = stored.partition("-")
    want, _, want_parts = expected.object.partition("-")
    return digest == want and (not parts or parts == want_parts)


def checksums_of(views: list[memoryview], size: int, pool: ThreadPoolExecutor) -> Checksums:
    def digest(start: int, end: int) -> bytes:
        hasher = hashlib.sha256()
        for view in slice_views(views, start, end):
            hasher.update(view)  # hashlib releases the GIL: parts hash in parallel
        return hasher.digest()

    if size <= PART_SIZE:
        whole = base64.b64encode(digest(0, size)).decode()
        return Checksums([whole], whole)
    part = part_size_for(size)
    digests = list(pool.map(lambda start: digest(start, min(start + part, size)),
                            range(0, size, part)))
    combined = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()
    return Checksums([base64.b64encode(d).decode() for d in digests],
                      f"{combined}-{len(digests)}")


def read_into(body: Any, target: memoryview) -> None:
    """Fill ``target`` from a botocore StreamingBody (short reads are retried)."""
    pos = 0
    raw = getattr(body, "_raw_stream", None)
    readinto = getattr(raw, "readinto", None)
    try:
        while pos < target.nbytes:
            if readinto is not None:
                n = readinto(target[pos : pos + _READ_BLOCK * 8])
            else:
                chunk = body.read(min(_READ_BLOCK, target.nbytes - pos))
                n = len(chunk)
                target[pos : pos + n] = chunk
            if not n:
                raise _ShortRead(
                    f"S3 returned {pos} bytes where {target.nbytes} were expected (connection "
                    "closed early); retry."
                )
            pos += n
    finally:
        body.close()
