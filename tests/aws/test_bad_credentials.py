"""An invalid access key is reported as such, not as a missing permission (issue 10).

S3 answers a HEAD with a bad key with a bare 403, exactly as for a missing permission; flowlib
then asks STS, which names the key as invalid. The moto server here runs with request
authentication on (``INITIAL_NO_AUTH_ACTION_COUNT=0``), so it rejects unknown keys as AWS does;
it is a server of this test's own, since authentication would break every other test.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from tests.support.backends import FLOWS


@pytest.fixture
def authenticating_moto(monkeypatch):
    pytest.importorskip("moto.server")
    import boto3
    import moto.settings
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket="flowlib-auth-test")
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    yield url
    server.stop()


def test_invalid_access_key_is_not_reported_as_access_denied(authenticating_moto, tmp_path):
    env = {
        **os.environ, "AWS_ENDPOINT_URL": authenticating_moto,
        "AWS_ACCESS_KEY_ID": "AKIAINVALIDINVALID00", "AWS_SECRET_ACCESS_KEY": "wrong",
        "FLOWLIB_CONFIG": "env", "FLOWLIB_DATASTORE": "s3",
        "FLOWLIB_S3_BUCKET": "flowlib-auth-test", "FLOWLIB_REGION": "us-east-1",
        "FLOWLIB_METADATA": "local",
        "FLOWLIB_DATASTORE_ROOT": str(tmp_path / "store"),
    }
    for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "FLOWLIB_PROFILE"):
        env.pop(key, None)
    proc = subprocess.run([sys.executable, str(FLOWS / "integrity_flow.py"), "run"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    # S3 names the bad key itself (InvalidAccessKeyId); a bare 403 (a HEAD) is checked with STS
    # (InvalidClientTokenId). Either way: rejected credentials, never "access denied".
    assert "were rejected (Invalid" in proc.stderr, proc.stderr
    assert "Access denied" not in proc.stderr
