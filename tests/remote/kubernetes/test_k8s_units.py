"""The pieces without a cluster: Job names and manifests, the log demultiplexer, and the EKS
token and client configuration (against the session's moto server)."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import pytest

from flowlib.decorators import KubernetesDecorator, ResourcesDecorator, TimeoutDecorator
from flowlib.exceptions import FlowlibError
from flowlib.remote.kubernetes import jobs
from flowlib.remote.kubernetes.entry import ESC_STDERR, LogDemux
from flowlib.runtime.spec import TaskSpec


def _spec(flow="MyFlow", run="12", step="train_model", task="345", attempt=1) -> TaskSpec:
    return TaskSpec(flow, run, step, task, attempt, [], [])


def test_job_names_are_valid_unique_and_short():
    name = jobs.job_name(_spec(), "abc")
    assert name.startswith("flowlib-myflow-12-train-model-345-1-")
    long = jobs.job_name(_spec(flow="A" * 80, step="s" * 80), "abc")
    for candidate in (name, long):
        assert len(candidate) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", candidate)
    assert jobs.job_name(_spec(), "abc") != jobs.job_name(_spec(), "other-store")
    assert jobs.job_name(_spec(), "abc") != jobs.job_name(_spec(attempt=2), "abc")
    assert jobs.label_value("-weird value!-") == "weird_value"


def test_resources_take_the_larger_of_resources_and_kubernetes():
    decorators = {
        "resources": ResourcesDecorator(cpu=4, memory=1000, disk=10),
        "kubernetes": KubernetesDecorator(cpu=0.25, memory=8192, gpu=2, shared_memory=64),
    }
    res = jobs.StepResources.from_decorators(decorators)
    assert res.quantities() == {"cpu": "4", "memory": "8192Mi", "ephemeral-storage": "10Mi",
                                "nvidia.com/gpu": "2"}
    assert res.shared_memory == 64
    small = jobs.StepResources.from_decorators({"kubernetes": KubernetesDecorator(cpu=0.5)})
    assert small.quantities()["cpu"] == "500m"


class _Profile(dict):
    def __getitem__(self, key):
        return self.get(key)


def test_settings_come_from_the_decorator_then_the_profile():
    profile = _Profile(image="repo/img:1", kubernetes_namespace="flows",
                       kubernetes_service_account="flowlib")
    plain = jobs.JobSettings.resolve("s", {"kubernetes": KubernetesDecorator()}, profile)
    assert (plain.image, plain.namespace, plain.service_account) == (
        "repo/img:1", "flows", "flowlib")
    own = jobs.JobSettings.resolve(
        "s", {"kubernetes": KubernetesDecorator(image="x:2", namespace="ml")}, profile)
    assert (own.image, own.namespace) == ("x:2", "ml")
    # No image anywhere: the official Python image (flowlib ships with the job).
    from flowlib.remote.runtime import default_image

    bare = jobs.JobSettings.resolve("s", {"kubernetes": KubernetesDecorator()}, _Profile())
    assert bare.image == default_image() and "/python:3." in bare.image


def test_manifest_deadline_and_shape():
    spec = _spec()
    settings = jobs.JobSettings(namespace="ns", image="img")
    res = jobs.StepResources.from_decorators({})
    job = jobs.build_job(spec, name="n", settings=settings, resources=res, command=["c"],
                         env={"B": "2", "A": "1"}, labels={"flowlib/flow": "MyFlow"},
                         timeout_seconds=TimeoutDecorator(seconds=1.5).total_seconds)
    assert job["spec"]["activeDeadlineSeconds"] == 2 + jobs.DEADLINE_SLACK_SECONDS
    assert job["spec"]["backoffLimit"] == 0
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert [e["name"] for e in container["env"]] == ["A", "B"]
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]
    assert job["metadata"]["annotations"]["flowlib/pathspec"] == "MyFlow/12/train_model/345"


def test_log_demux_splits_streams_across_chunks():
    demux = LogDemux()
    merged = b"out 1\n" + ESC_STDERR + b"err 1\n" + b"\x1e1 \x1eodd\n" + ESC_STDERR + b"tail"
    got = []
    for i in range(0, len(merged), 3):  # cut everywhere, including inside the marker
        got += demux.feed(merged[i:i + 3])
    got += demux.flush()
    assert got == [("stdout", b"out 1\n"), ("stderr", b"err 1\n"), ("stdout", b"\x1eodd\n"),
                   ("stderr", b"tail")]


def test_entry_keeps_streams_apart_and_passes_the_exit_code(tmp_path):
    """The container command's wrapper, with a bootstrap that fails its version check."""
    proc = subprocess.run(
        [sys.executable, "-m", "flowlib.remote.kubernetes.entry", "--flow", "F", "--package",
         "k", "--expect-version", "0.0.0-other", "--", "step", "start"],
        capture_output=True, timeout=60,
    )
    assert proc.returncode == 78
    lines = LogDemux().feed(proc.stdout)
    assert lines and all(stream == "stderr" for stream, _ in lines)
    assert b"flowlib version mismatch" in b"".join(data for _, data in lines)


@pytest.fixture
def aws(request, monkeypatch):
    pytest.importorskip("moto")
    stack = request.getfixturevalue("moto_stack")
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    return stack


def test_eks_token_is_a_presigned_caller_identity_url_bound_to_the_cluster(aws):
    from flowlib.remote.kubernetes.auth import CLUSTER_ID_HEADER, TOKEN_PREFIX, eks_token

    token = eks_token("flowlib-dev", "us-east-1")
    assert token.startswith(TOKEN_PREFIX) and "=" not in token
    payload = token[len(TOKEN_PREFIX):]
    url = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    query = parse_qs(urlparse(url).query)
    assert query["Action"] == ["GetCallerIdentity"]
    assert CLUSTER_ID_HEADER in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["X-Amz-Expires"] == ["60"]


def test_eks_configuration_uses_describe_cluster_and_a_refreshing_token(aws):
    from flowlib.remote.kubernetes.auth import client_configuration

    eks = aws.client("eks")
    role = "arn:aws:iam::123456789012:role/eks"
    eks.create_cluster(name="flowlib-k8s-test", roleArn=role,
                       resourcesVpcConfig={"subnetIds": []})
    cluster = eks.describe_cluster(name="flowlib-k8s-test")["cluster"]
    conf = client_configuration(_Profile(eks_cluster_name="flowlib-k8s-test",
                                         region="us-east-1"))
    assert conf.host == cluster["endpoint"]
    assert conf.get_api_key_with_prefix("BearerToken").startswith("Bearer k8s-aws-v1.")
    if cluster.get("certificateAuthority", {}).get("data"):
        assert conf.ssl_ca_cert and open(conf.ssl_ca_cert, "rb").read()


def test_host_override_and_missing_kubeconfig(monkeypatch, tmp_path):
    from flowlib.remote.kubernetes.auth import client_configuration

    monkeypatch.setenv("FLOWLIB_KUBERNETES_HOST", "http://127.0.0.1:1/")
    assert client_configuration(_Profile()).host == "http://127.0.0.1:1"
    monkeypatch.delenv("FLOWLIB_KUBERNETES_HOST")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    with pytest.raises(FlowlibError, match="No Kubernetes cluster configured"):
        client_configuration(_Profile())
