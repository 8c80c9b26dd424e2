"""Stage 0 (flowlib/remote/stage0.py) signs its own S3 requests and finds credentials with the
standard library only. Its signature is checked against botocore's signer on the same request,
and its credential chain against local stand-ins of the container endpoints (ECS/Batch and
EKS Pod Identity; STS for an EKS service account's web identity)."""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock

import pytest

from flowlib.remote import stage0

NOW = datetime.datetime(2026, 11, 29, 15, 4, 5, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("environ,bucket,key", [
    ({}, "flowlib-dev-artifacts", "flowlib/MyFlow/data/ab/ab12cd"),
    ({}, "dotted.bucket.name", "a prefix/Flow/data/ab/k~1+2"),
    ({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, "b", "p/F/data/00/0011"),
])
@pytest.mark.parametrize("token", [None, "session-token/+="])
def test_signature_is_botocores(environ, bucket, key, token) -> None:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = stage0.object_url(environ, bucket, key, "eu-west-1")
    ours = stage0.sign_get(url, "eu-west-1", ("AKIDEXAMPLE", "secret/key", token), NOW)
    request = AWSRequest(method="GET", url=url)
    with mock.patch("botocore.auth.get_current_datetime",
                    return_value=NOW.replace(tzinfo=None)):
        S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret/key", token), "s3",
                    "eu-west-1").add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["x-amz-content-sha256"] == hashlib.sha256(b"").hexdigest()


def _serve(reply: bytes, seen: list) -> HTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_credentials_from_the_container_endpoint_with_a_token_file(tmp_path) -> None:
    seen: list = []
    server = _serve(json.dumps({"AccessKeyId": "A", "SecretAccessKey": "S",
                                "Token": "T"}).encode(), seen)
    token = tmp_path / "token"
    token.write_text("pod-identity-token\n")
    try:
        creds = stage0.credentials({
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{server.server_port}/v1",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token)})
    finally:
        server.shutdown()
    assert creds == ("A", "S", "T")
    assert seen[0][2]["Authorization"] == "pod-identity-token"


def test_credentials_from_a_web_identity(tmp_path) -> None:
    seen: list = []
    reply = (b'<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/'
             b'2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>A'
             b'</AccessKeyId><SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>'
             b'</Credentials></AssumeRoleWithWebIdentityResult>'
             b'</AssumeRoleWithWebIdentityResponse>')
    server = _serve(reply, seen)
    token = tmp_path / "token"
    token.write_text("jwt")
    try:
        creds = stage0.credentials({
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
            "AWS_ENDPOINT_URL_STS": f"http://127.0.0.1:{server.server_port}"})
    finally:
        server.shutdown()
    assert creds == ("A", "S", "T")
    body = seen[0][3]
    assert b"Action=AssumeRoleWithWebIdentity" in body and b"WebIdentityToken=jwt" in body


def test_the_loader_runs_stage0_and_reports_a_clear_error(tmp_path) -> None:
    import subprocess
    import sys

    from flowlib.remote.runtime import stage0_environment, stage0_loader

    proc = subprocess.run(
        [sys.executable, "-c", stage0_loader(), "--store", "s3://b/p/F/data", "--package",
         "00aa:ff", "--", "-c", "pass"],
        env={"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s",
             "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "PATH": "/usr/bin",
             **stage0_environment()},
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == stage0.CONFIG_EXIT
    assert proc.stderr.startswith("flowlib: cannot start the task: GET http://127.0.0.1:9/b/p/F")


def test_stage0_holds_the_runtime_bundle_it_uses_and_prunes_the_host_cache(tmp_path) -> None:
    """The real container command (the loader, a python without site-packages: no boto3) on a
    local datastore folder: stage 0 unpacks the runtime bundle into the host folder, pruning an
    entry unused for 30 days first, and the task it execs still holds the bundle's lock."""
    import io
    import os
    import subprocess
    import sys
    import tarfile
    import time

    from flowlib.environments import host_cache
    from flowlib.remote.package import build_package
    from flowlib.remote.runtime import STAGE0_ENV, stage0_environment, stage0_loader

    store, cache = tmp_path / "store", tmp_path / "host"

    def put(data: bytes) -> str:
        key = hashlib.sha256(b"key" + data).hexdigest()
        (store / key[:2]).mkdir(parents=True, exist_ok=True)
        (store / key[:2] / key).write_bytes(data)
        return f"{key}:{hashlib.sha256(data).hexdigest()}"

    flow = tmp_path / "flow" / "probe_flow.py"
    flow.parent.mkdir()
    flow.write_text("")
    package = put(build_package(flow)[0])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in ((host_cache.MARKER, b"{}"), ("hostprune_probe.py", b"VALUE = 42\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    runtime = put(buffer.getvalue())
    runtime_key = runtime.split(":")[0]
    old = cache / "bundles" / ("0d" * 16)
    old.mkdir(parents=True)
    (old / host_cache.MARKER).write_text("{}")
    (old / host_cache.STAMP).touch()
    when = time.time() - 30 * host_cache.DAY
    os.utime(old / host_cache.STAMP, (when, when))
    task = ("import fcntl, os, hostprune_probe\n"
            f"fd = os.open({str(cache / 'bundles' / runtime_key)!r} + '.use', os.O_RDWR)\n"
            "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    held = 'free'\n"
            "except BlockingIOError:\n    held = 'held'\n"
            "print(hostprune_probe.VALUE, held)\n")
    # The task does not inherit stage 0's code (it is popped before stage 0 runs).
    task += f"assert {STAGE0_ENV!r} not in os.environ\n"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    command = [sys.executable, "-S", "-c", stage0_loader(), "--store", str(store), "--package",
               package, "--runtime", f"{runtime}:{python}", "--", "-S", "-c", task]
    env = {"PATH": "/usr/bin:/bin", "FLOWLIB_ENVIRONMENTS_DIR": str(cache),
           host_cache.MIN_FREE_ENV: "0", **stage0_environment()}
    cold = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert (cold.returncode, cold.stdout) == (0, "42 held\n"), cold.stderr
    assert cold.stderr.startswith(f"flowlib: host cache {cache / 'bundles'}: removed 1 entry "
                                  f"({'0d' * 6} unused for 30 days, ")
    assert not old.exists() and (cache / "bundles" / runtime_key / host_cache.STAMP).exists()
    warm = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert (warm.returncode, warm.stdout, warm.stderr) == (0, "42 held\n", "")  # no prune
    # No host folder (batch_host_cache off, Kubernetes): the container's own /tmp, which dies
    # with it, is not pruned and says nothing.
    private = tmp_path / "container-tmp"
    private.mkdir()
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(private), **stage0_environment()}
    alone = subprocess.run(command[:-1] + [task.replace(str(cache), str(private / "flowlib-env"))],
                           env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert (alone.returncode, alone.stdout, alone.stderr) == (0, "42 held\n", "")
