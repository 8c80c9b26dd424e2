"""A test double of the Docker Engine API that runs each "container" as a local process.

moto's AWS Batch backend drives every job through the docker SDK (``docker.from_env()``, so
``DOCKER_HOST`` decides where). This server answers the part of the Engine API that moto uses
(version, create, start, inspect, logs, wait, kill, delete, image pull) by running the
container's ``Cmd`` with its ``Env`` as a subprocess of this machine, ignoring the image: the
real submit, the real state transitions, the real command and the real CloudWatch log path,
without a Docker engine. It is not Docker: no isolation, no image, no resource limits.

What a container shares with its host is played as faithfully as a local process allows:
each container gets a /tmp of its own (``TMPDIR``, its working folder, removed with it), so
nothing unpacked in one job is seen by the next unless the job definition mounts a host
folder. Bind mounts (Batch job definitions' host ``volumes``) are honoured only at their own
path (``Target == Source``: a local process cannot see a folder elsewhere) and only under the
machine's temp folder, so a test cannot write into the real /var; the folder is created when
missing, as the ECS agent does for a host volume.

``python`` as the command's first word is mapped to this interpreter (the "image" is this
checkout). ``base_env`` stands in for what a container gets from its host (PATH, and in tests
the moto endpoint and dummy credentials a job role would provide). Images whose name contains
``missing`` cannot be pulled, so tests can see how a pull failure surfaces; ``image_env``
adds variables per image name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class _Container:
    def __init__(self, config: dict, name: str) -> None:
        self.id = uuid.uuid4().hex
        self.name = name
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: list[tuple[int, str, bytes]] = []  # (stream 1|2, timestamp, line)
        self.readers: list[threading.Thread] = []
        self.tmp = tempfile.mkdtemp(prefix="fake-container-")  # the container's own /tmp

    def start(self, base_env: dict[str, str], image_env: dict[str, str],
              python: str | None = None) -> None:
        cmd = list(self.config.get("Cmd") or [])
        if cmd and cmd[0] in ("python", "python3"):
            cmd[0] = python or sys.executable
        env = {**base_env, **image_env}
        env.update(e.split("=", 1) for e in self.config.get("Env") or [] if "=" in e)
        env["TMPDIR"] = self.tmp
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.tmp,
        )
        for kind, pipe in ((1, self.proc.stdout), (2, self.proc.stderr)):
            thread = threading.Thread(target=self._read, args=(kind, pipe), daemon=True)
            thread.start()
            self.readers.append(thread)

    def _read(self, kind: int, pipe) -> None:  # noqa: ANN001 - a binary pipe
        for line in pipe:
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
            self.lines.append((kind, stamp, line))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int:
        assert self.proc is not None
        code = self.proc.wait()
        for thread in self.readers:
            thread.join(timeout=5)
        return code if code >= 0 else 128 - code

    def inspect(self) -> dict:
        status = "created" if self.proc is None else ("running" if self.running else "exited")
        return {
            "Id": self.id, "Name": "/" + self.name, "Config": {**self.config, "Tty": False},
            "State": {"Status": status, "Running": status == "running",
                      "ExitCode": 0 if status != "exited" else self.exit_code()},
            "NetworkSettings": {"IPAddress": "127.0.0.1", "Networks": {}},
        }

    def remove(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logs(self, query: dict[str, list[str]]) -> bytes:
        wanted = {k for k, flag in ((1, "stdout"), (2, "stderr")) if query.get(flag) == ["1"]}
        stamps = query.get("timestamps") == ["1"]
        out = bytearray()
        for kind, stamp, line in list(self.lines):
            if kind in wanted:
                payload = (stamp.encode() + b" " if stamps else b"") + line
                out += struct.pack(">BxxxL", kind, len(payload)) + payload
        return bytes(out)


class FakeDockerServer(ThreadingHTTPServer):
    """``FakeDockerServer(base_env).start()``; then ``DOCKER_HOST=server.docker_host``."""

    daemon_threads = True

    def __init__(self, base_env: dict[str, str] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base_env = dict(base_env if base_env is not None else os.environ)
        # What an image adds to base_env, by image name (e.g. a PYTHONPATH with another
        # flowlib, to play an image built from another checkout).
        self.image_env: dict[str, dict[str, str]] = {}
        # The interpreter that plays an image's ``python`` (default: this test session's), e.g.
        # a virtualenv with nothing installed to play a plain Python image.
        self.image_python: dict[str, str] = {}
        self.containers: dict[str, _Container] = {}
        self.started = 0  # containers run so far (tests and benchmarks read it)
        # The one "instance" every container runs on: tests give ``host_cache`` as the
        # profile's batch_host_cache, a folder of this instance's disk.
        self.host_root = tempfile.mkdtemp(prefix="fake-docker-host-")
        self.host_cache = os.path.join(self.host_root, "var-cache-flowlib")

    @property
    def docker_host(self) -> str:
        return f"tcp://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeDockerServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for container in list(self.containers.values()):
            if container.running:
                os.killpg(container.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
            container.remove()
        self.shutdown()
        self.server_close()
        shutil.rmtree(self.host_root, ignore_errors=True)


class _Handler(BaseHTTPRequestHandler):
    server: FakeDockerServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _reply(self, code: int, body: object = None, raw: bytes | None = None,
               kind: str = "application/json") -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        url = urlparse(self.path)
        path = re.sub(r"^/v[0-9.]+", "", url.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        containers = self.server.containers
        if path in ("/version", "/_ping"):
            return self._reply(200, {"ApiVersion": "1.44", "Version": "fake-25.0",
                                     "MinAPIVersion": "1.24"})
        if path.startswith("/images/"):
            image = path[len("/images/"):].removesuffix("/json")
            if "missing" in (image + str(query.get("fromImage"))):
                return self._reply(404, {"message": f"pull access denied for {image}"})
            return self._reply(200, {"Id": "sha256:fake", "RepoTags": [image]})
        if path == "/containers/create" and method == "POST":
            if "missing" in body.get("Image", ""):
                return self._reply(404, {"message": f"No such image: {body['Image']}"})
            problem = _mount_problem(body)
            if problem:
                return self._reply(400, {"message": problem})
            container = _Container(body, (query.get("name") or [uuid.uuid4().hex])[0])
            containers[container.id] = container
            return self._reply(201, {"Id": container.id, "Warnings": []})
        match = re.match(r"^/containers/([^/]+)(?:/(\w+))?$", path)
        container = containers.get(match.group(1)) if match else None
        if container is None:
            return self._reply(404, {"message": "No such container"})
        action = match.group(2) if match else None
        if method == "DELETE":
            containers.pop(container.id, None)
            container.remove()
            return self._reply(204)
        if action == "start":
            image = container.config.get("Image", "")
            container.start(self.server.base_env, self.server.image_env.get(image, {}),
                            self.server.image_python.get(image))
            self.server.started += 1
            return self._reply(204)
        if action == "json":
            return self._reply(200, container.inspect())
        if action == "kill":
            if container.running:
                os.killpg(container.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
            return self._reply(204)
        if action == "wait":
            return self._reply(200, {"StatusCode": container.exit_code(), "Error": None})
        if action == "logs":
            return self._reply(200, raw=container.logs(query),
                               kind="application/vnd.docker.raw-stream")
        return self._reply(404, {"message": f"unsupported: {method} {path}"})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")


def _mount_problem(config: dict) -> str | None:
    """Why this double cannot honour the container's mounts (None: it can; each bind's folder
    is created)."""
    host = config.get("HostConfig") or {}
    binds = [(m.get("Source", ""), m.get("Target", "")) for m in host.get("Mounts") or []
             if m.get("Type") == "bind"]
    binds += [tuple(b.split(":")[:2]) for b in host.get("Binds") or []]
    temp = os.path.realpath(tempfile.gettempdir())
    for source, target in binds:
        if source != target:
            return (f"fake docker: cannot mount {source} at {target}: a local process sees "
                    "host folders only at their own path")
        if os.path.commonpath([temp, os.path.realpath(source)]) != temp:
            return (f"fake docker: refusing to bind {source}: tests may bind folders under "
                    f"{temp} only (set the profile's batch_host_cache to one)")
        os.makedirs(source, exist_ok=True)
    return None


def plain_python(folder: str | os.PathLike) -> str:
    """The interpreter of a new virtualenv with nothing installed in ``folder``: what a plain
    ``python:3.X-slim`` image has (map an image to it with ``image_python``)."""
    from pathlib import Path

    venv = Path(folder) / "plain-python"
    if not (venv / "bin" / "python").exists():
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    for module in ("flowlib", "boto3"):
        probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True,
                               env={"PATH": "/usr/bin:/bin"}, cwd=venv)
        if probe.returncode == 0:
            raise RuntimeError(f"the plain Python in {venv} can import {module}")
    return python
