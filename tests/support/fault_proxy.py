"""A fault-injecting TCP proxy in front of the moto server: a store outage on demand.

Point ``AWS_ENDPOINT_URL`` at :attr:`FaultProxy.url`. While healthy it pipes bytes both ways.
During an outage window (:meth:`outage`) it first cuts every open connection (keep-alive
connections die with the outage, as they do when a load balancer or the network fails), then
answers each new connection with the next fault of a rotation:

* ``drop``: accept and close at once (botocore sees the connection closed or reset);
* ``503``: read the request, answer ``503 Service Unavailable`` (S3 ``SlowDown`` body);
* ``throttle``: read the request, answer what DynamoDB answers when it throttles
  (``400`` with ``ThrottlingException``).

It stands in for AWS's failure modes on the wire, not for AWS: the faults are the documented
shapes of S3 and DynamoDB errors, replayed deterministically.
"""

from __future__ import annotations

import itertools
import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

_S3_SLOWDOWN = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_THROTTLED = (
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException",'
    b'"message":"Rate of requests exceeds the allowed throughput."}'
)


class FaultProxy:
    def __init__(self, upstream: str, faults: tuple[str, ...] = ("drop", "503", "throttle")
                 ) -> None:
        host, port = upstream.removeprefix("http://").rstrip("/").split(":")
        self.upstream = (host, int(port))
        self.faults = itertools.cycle(faults)
        self.injected: Counter[str] = Counter()
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    def begin_outage(self, seconds: float) -> None:
        with self._lock:
            self._down_until = time.monotonic() + seconds
            for sock in list(self._open):
                _close(sock)
            self._open.clear()

    @contextmanager
    def outage(self, seconds: float) -> Iterator[None]:
        self.begin_outage(seconds)
        yield
        time.sleep(max(0.0, self._down_until - time.monotonic()))

    # -- connections -----------------------------------------------------------------------
    def _handle(self, client: socket.socket) -> None:
        if self.down:
            self._fault(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=30)
        except OSError:
            _close(client)
            return
        with self._lock:
            self._open.update((client, upstream))
        pump = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        pump.start()
        _pipe(client, upstream)
        pump.join()
        with self._lock:
            self._open.difference_update((client, upstream))

    def _fault(self, client: socket.socket) -> None:
        with self._lock:
            fault = next(self.faults)
            self.injected[fault] += 1
        try:
            if fault == "drop":
                return
            request = _read_request(client)
            dynamodb = b"x-amz-target: dynamodb" in request.lower()
            if fault == "throttle" and dynamodb:
                status, body = b"400 Bad Request", _THROTTLED
                kind = b"application/x-amz-json-1.0"
            elif dynamodb:
                status, body = b"503 Service Unavailable", b'{"__type":"ServiceUnavailable"}'
                kind = b"application/x-amz-json-1.0"
            else:  # S3 answers both overload and outage with a 503
                status, body, kind = b"503 Slow Down", _S3_SLOWDOWN, b"application/xml"
            client.sendall(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: " + kind + b"\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
            )
        except OSError:
            pass
        finally:
            _close(client)


def _read_request(sock: socket.socket) -> bytes:
    """Read one request's head and its Content-Length body, so the client sees an answer,
    not a reset, while it is still sending."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(rest) < length:
        chunk = sock.recv(min(65536, length - len(rest)))
        if not chunk:
            break
        rest += chunk
    return head


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        _close(target)
        _close(source)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
