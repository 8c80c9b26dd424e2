"""The HTTP endpoint's Lambda package (platform_cli/http_api_package.py): deterministic, and
complete: a bare interpreter with only the zip and the Lambda runtime's own boto3 on its path
imports the handler and answers a request (the Lambda runtime itself needs Docker, absent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3


def test_package_is_deterministic_and_self_contained(tmp_path: Path) -> None:
    from platform_cli.http_api_package import build_package

    first = build_package(tmp_path / "a")
    second = build_package(tmp_path / "b")
    assert first.sha256 == second.sha256 and first.path.read_bytes() == second.path.read_bytes()
    assert first.runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"
    names = zipfile.ZipFile(first.path).namelist()
    assert "flowlib/http_api/handler.py" in names and "flowlib/config/stack_output_schema.json" \
        in names
    assert not [n for n in names if n.startswith(("boto3/", "botocore/", "platform_cli/"))
                or "__pycache__" in n]

    code = tmp_path / "code"
    zipfile.ZipFile(first.path).extractall(code)
    runtime = tmp_path / "runtime"  # what the Lambda runtime provides: boto3 and its deps
    runtime.mkdir()
    site = Path(boto3.__file__).resolve().parents[1]
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py"):
        (runtime / name).symlink_to(site / name)
    script = (
        "import json, sys\n"
        "from flowlib.http_api.handler import handler\n"
        "event = {'routeKey': 'POST /flows/{flow}/runs', 'pathParameters': {'flow': 'F'},\n"
        "         'body': '{not json'}\n"
        "print(json.dumps(handler(event, None)))\n"
        "print(sorted(m for m in ('pandas', 'awswrangler', 'kubernetes', 'starlette')\n"
        "             if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "PYTHONPATH": f"{code}{os.pathsep}{runtime}", "FLOWLIB_CONFIG": "env"})
    assert result.returncode == 0, result.stderr
    response, heavy = (json.loads(line) for line in result.stdout.splitlines())
    assert response["statusCode"] == 400 and "not valid JSON" in response["body"]
    assert heavy == []
