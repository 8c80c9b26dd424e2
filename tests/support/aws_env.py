"""Local AWS and Terraform helpers for tests.

Two independent parts:

* moto (no Terraform needed): :class:`MotoServer` runs moto's server mode on 127.0.0.1 with a
  free port, in-process (``ThreadedMotoServer``) or as a ``moto_server`` subprocess, and
  :func:`aws_env` gives the environment variables (dummy credentials, region,
  ``AWS_ENDPOINT_URL``) that boto3, awswrangler and the Terraform AWS provider all honour.
  moto is a local stand-in for AWS, not AWS: it accepts most calls but enforces no IAM policy,
  starts no instance and serves no Kubernetes API.
* Terraform offline: :func:`find_provider_mirror` locates the filesystem mirror of the
  hashicorp providers, :func:`terraform_env` writes a CLI config pointing at it and returns
  the environment, :func:`run_terraform` runs the binary with it.

Used by tests/terraform, the flowlib S3/DynamoDB tests and the ``platform`` CLI tests.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

DEFAULT_REGION = "us-east-1"
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"

# Places a Terraform provider filesystem mirror is usually found, searched in this order
# before falling back to a filesystem walk.
_MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
)


# ---------------------------------------------------------------------------------------------
# moto
# ---------------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=5):
                return
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
            time.sleep(0.2)
    raise RuntimeError(f"moto server at {url} did not answer within {timeout:.0f}s: {last_error}")


class MotoServer:
    """A moto server on 127.0.0.1 with a free port.

    ``mode="thread"`` runs ``moto.server.ThreadedMotoServer`` inside this process (fast, shares
    this process's environment); ``mode="process"`` runs the ``moto_server`` command as a child
    process whose environment is ``os.environ`` updated with ``env`` (needed for settings read
    at import time, such as ``MOTO_IAM_LOAD_MANAGED_POLICIES``, or to keep moto's CPU use out
    of the test process). Either way other processes reach it at :attr:`url`.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        mode: str = "process",
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        startup_timeout: float = 60.0,
        log_path: Path | None = None,
    ) -> None:
        if mode not in ("thread", "process"):
            raise ValueError(f"mode must be 'thread' or 'process', not {mode!r}")
        self.mode = mode
        self.env = dict(env or {})
        self.host = host
        self.port = 0
        self.startup_timeout = startup_timeout
        self.log_path = log_path
        self._thread_server: object | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None

    @property
    def url(self) -> str:
        """Endpoint URL, for example ``http://127.0.0.1:45123``."""
        if not self.port:
            raise RuntimeError("moto server is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Start the server, wait until it answers, and return its URL."""
        if self.mode == "thread":
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            for key, value in self.env.items():
                os.environ.setdefault(key, value)
            server = ThreadedMotoServer(ip_address=self.host, port=0, verbose=False)
            server.start()
            self.port = int(server.get_host_and_port()[1])
            self._thread_server = server
        else:
            self.port = free_port(self.host)
            command = _moto_server_command() + ["-H", self.host, "-p", str(self.port)]
            env = {**os.environ, **self.env}
            if self.log_path is not None:
                self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
                output: object = self._log_file
            else:
                output = subprocess.DEVNULL
            self._process = subprocess.Popen(
                command, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        try:
            _wait_until_up(self.url, self.startup_timeout)
        except Exception:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self._thread_server is not None:
            self._thread_server.stop()  # type: ignore[attr-defined]
            self._thread_server = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=30)
            self._process = None
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None

    def reset(self) -> None:
        """Forget every resource (``POST /moto-api/reset``); ``/moto-api/config`` is kept."""
        _post(f"{self.url}/moto-api/reset", None)

    def configure(self, config: Mapping[str, object]) -> None:
        """Post moto settings, e.g. ``{"batch": {"use_docker": False}}``."""
        _post(f"{self.url}/moto-api/config", dict(config))

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _moto_server_command() -> list[str]:
    # The moto of this interpreter (a virtualenv's bin/ is often not on PATH).
    beside = Path(sys.executable).parent / "moto_server"
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", "moto.server"]


def _post(url: str, payload: Mapping[str, object] | None) -> None:
    data = json.dumps(payload).encode() if payload is not None else b""
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30):
        pass


def aws_env(endpoint_url: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that point every AWS SDK (and Terraform's provider) at a server.

    Dummy credentials, the region, and ``AWS_ENDPOINT_URL``; profiles, real credentials and
    IMDS lookups are switched off so nothing reaches a real account.
    """
    return {
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a ``with`` block, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def boto3_client(service: str, endpoint_url: str, region: str = DEFAULT_REGION) -> object:
    """A boto3 client for ``service`` on the server at ``endpoint_url`` with dummy credentials."""
    import boto3

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
    )


# ---------------------------------------------------------------------------------------------
# Terraform
# ---------------------------------------------------------------------------------------------


def terraform_binary() -> str | None:
    """Path of the ``terraform`` binary, or None when it is not installed."""
    return shutil.which("terraform")


def _is_mirror_root(path: Path) -> bool:
    return (path / "registry.terraform.io" / "hashicorp").is_dir()


def find_provider_mirror(provider: str = "aws") -> Path | None:
    """Root of a Terraform filesystem mirror holding ``hashicorp/<provider>``, or None.

    The root is the folder above ``registry.terraform.io``. ``TF_PROVIDER_MIRROR`` wins when
    set; then usual locations; then a search of the filesystem (skipping /proc and /sys).
    """
    explicit = os.environ.get("TF_PROVIDER_MIRROR")
    if explicit and _is_mirror_root(Path(explicit)):
        return Path(explicit)
    for candidate in _MIRROR_CANDIDATES:
        path = Path(candidate).expanduser()
        if (path / "registry.terraform.io" / "hashicorp" / provider).is_dir():
            return path
    pattern = f"terraform-provider-{provider}_*"
    try:
        found = subprocess.run(
            [
                "find",
                "/",
                "-xdev",
                "(",
                "-path",
                "/proc",
                "-o",
                "-path",
                "/sys",
                ")",
                "-prune",
                "-o",
                "-name",
                pattern,
                "-type",
                "f",
                "-print",
                "-quit",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not found:
        return None
    # .../<root>/registry.terraform.io/hashicorp/<provider>/<version>/<os_arch>/<binary>
    path = Path(found)
    for parent in path.parents:
        if parent.name == "registry.terraform.io":
            return parent.parent
    return None


def write_cli_config(directory: Path, mirror: Path, plugin_cache_dir: Path | None = None) -> Path:
    """Write a Terraform CLI config that installs hashicorp providers from ``mirror`` only."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    if plugin_cache_dir is not None:
        plugin_cache_dir.mkdir(parents=True, exist_ok=True)
        lines.append(f"plugin_cache_dir = {json.dumps(str(plugin_cache_dir))}")
    lines += [
        "provider_installation {",
        "  filesystem_mirror {",
        f"    path    = {json.dumps(str(mirror))}",
        '    include = ["registry.terraform.io/hashicorp/*"]',
        "  }",
        "  direct {",
        '    exclude = ["registry.terraform.io/hashicorp/*"]',
        "  }",
        "}",
    ]
    path = directory / "terraformrc.hcl"
    path.write_text("\n".join(lines) + "\n")
    return path


def terraform_env(
    work_dir: Path,
    mirror: Path | None = None,
    extra: Mapping[str, str] | None = None,
    plugin_cache_dir: Path | None = None,
) -> dict[str, str]:
    """Environment for running Terraform offline: ``os.environ`` plus a CLI config.

    Writes a CLI config under ``work_dir`` pointing at the provider mirror (found with
    :func:`find_provider_mirror` when not given), and sets ``TF_CLI_CONFIG_FILE``,
    ``TF_IN_AUTOMATION`` and ``TF_INPUT=0``. ``extra`` (for example :func:`aws_env`) is applied
    last. No plugin cache by default: from an unpacked mirror ``init`` only links the provider
    (about a second), and Terraform's cache is not safe for concurrent ``init`` runs.
    """
    mirror = mirror or find_provider_mirror()
    if mirror is None:
        raise RuntimeError("no Terraform provider mirror with hashicorp/aws was found")
    config = write_cli_config(work_dir, mirror, plugin_cache_dir=plugin_cache_dir)
    env = dict(os.environ)
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    env.update(extra or {})
    return env


def run_terraform(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 900.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``terraform <args>`` in ``cwd`` with ``env`` (``-no-color`` added), capturing output.

    Raises ``RuntimeError`` with the command's output when it fails and ``check`` is true.
    """
    binary = terraform_binary()
    if binary is None:
        raise RuntimeError("terraform is not installed")
    command = [binary, *args]
    if args and args[0] not in ("fmt", "version") and "-no-color" not in args:
        # After the (sub)command: `terraform state list -no-color`, `terraform plan -no-color`.
        nested = args[0] in ("state", "workspace", "providers") and len(args) > 1
        command.insert(3 if nested else 2, "-no-color")
    result = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"terraform {' '.join(args)} failed with exit code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-20000:]}\n--- stderr ---\n{result.stderr[-20000:]}"
        )
    return result
