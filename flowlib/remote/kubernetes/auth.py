"""Which cluster to talk to, and how to authenticate, as a ``kubernetes.client.Configuration``.

In order:

1. ``FLOWLIB_KUBERNETES_HOST=http://127.0.0.1:PORT``: a plain URL and no credentials. For tests
   against an emulated API server (kmock) and ``kubectl proxy``; never for a real cluster over
   the network.
2. The profile has ``eks_cluster_name``: the EKS endpoint (profile's ``eks_cluster_endpoint``,
   else ``DescribeCluster``), its CA from ``DescribeCluster``, and a bearer token made with
   botocore the way ``aws eks get-token`` makes it (no AWS CLI needed), refreshed before its
   15-minute lifetime ends.
3. Otherwise the kubeconfig (``KUBECONFIG`` or ``~/.kube/config``; context
   ``FLOWLIB_KUBERNETES_CONTEXT`` or the current one).
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
from typing import Any

from flowlib.exceptions import FlowlibError

HOST_ENV = "FLOWLIB_KUBERNETES_HOST"
CONTEXT_ENV = "FLOWLIB_KUBERNETES_CONTEXT"
TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
TOKEN_EXPIRES_IN = 60  # seconds the presigned URL is valid for a *new* token request
TOKEN_REFRESH_AFTER = 10 * 60  # EKS accepts a token for 15 minutes; renew well before that


def _get(profile: Any, key: str) -> Any:
    if profile is None:
        return None
    try:
        return profile[key]
    except (KeyError, TypeError):
        return None


def botocore_session(profile: Any) -> Any:
    import botocore.session

    aws_profile = _get(profile, "aws_profile")
    return botocore.session.Session(profile=aws_profile) if aws_profile else (
        botocore.session.get_session()
    )


def eks_token(cluster_name: str, region: str, session: Any | None = None) -> str:
    """A bearer token for EKS: a presigned STS GetCallerIdentity URL whose signature covers the
    ``x-k8s-aws-id: <cluster>`` header, base64url-encoded without padding, prefixed
    ``k8s-aws-v1.``. EKS calls that URL to learn who we are (IAM identity), then maps the
    identity to Kubernetes users through access entries."""
    session = session or botocore_session(None)
    sts = session.create_client("sts", region_name=region)

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url = sts.generate_presigned_url(
        "get_caller_identity", Params={}, ExpiresIn=TOKEN_EXPIRES_IN, HttpMethod="GET"
    )
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return TOKEN_PREFIX + encoded


def eks_configuration(profile: Any) -> Any:
    """A client configuration for the profile's EKS cluster, with a self-refreshing token."""
    from kubernetes import client

    name = _get(profile, "eks_cluster_name")
    region = _get(profile, "region") or os.environ.get("AWS_REGION") or os.environ.get(
        "AWS_DEFAULT_REGION"
    )
    if not region:
        raise FlowlibError(
            f"EKS cluster '{name}': no region; set the profile's 'region' (FLOWLIB_REGION)."
        )
    session = botocore_session(profile)
    try:
        cluster = session.create_client("eks", region_name=region).describe_cluster(name=name)[
            "cluster"
        ]
    except Exception as exc:  # noqa: BLE001 - botocore raises many kinds; say what failed
        raise FlowlibError(
            f"Cannot describe EKS cluster '{name}' in {region}: {exc}. Check the profile's "
            "eks_cluster_name and your AWS credentials (eks:DescribeCluster)."
        ) from None
    config = client.Configuration()
    config.host = _get(profile, "eks_cluster_endpoint") or cluster.get("endpoint")
    ca = (cluster.get("certificateAuthority") or {}).get("data")
    if ca:
        handle, path = tempfile.mkstemp(prefix="flowlib-eks-ca-", suffix=".pem")
        with os.fdopen(handle, "wb") as out:
            out.write(base64.b64decode(ca))
        config.ssl_ca_cert = path
    config.api_key_prefix["BearerToken"] = "Bearer"
    issued = [0.0]

    def refresh(conf: Any) -> None:
        if time.time() - issued[0] > TOKEN_REFRESH_AFTER:
            conf.api_key["BearerToken"] = eks_token(name, region, session)
            issued[0] = time.time()

    refresh(config)
    config.refresh_api_key_hook = refresh
    return config


def client_configuration(profile: Any) -> Any:
    """The configuration for this profile (see the module docstring for the order)."""
    from kubernetes import client, config

    host = os.environ.get(HOST_ENV)
    if host:
        conf = client.Configuration()
        conf.host = host.rstrip("/")
        return conf
    if _get(profile, "eks_cluster_name"):
        return eks_configuration(profile)
    conf = client.Configuration()
    try:
        config.load_kube_config(
            context=os.environ.get(CONTEXT_ENV) or None, client_configuration=conf
        )
    except Exception as exc:  # noqa: BLE001 - ConfigException, FileNotFoundError, ...
        raise FlowlibError(
            f"No Kubernetes cluster configured: {exc}. Set the profile's eks_cluster_name "
            f"(FLOWLIB_EKS_CLUSTER_NAME), or a kubeconfig (KUBECONFIG, {CONTEXT_ENV})."
        ) from None
    return conf


def api_client(profile: Any) -> Any:
    from kubernetes import client

    conf = client_configuration(profile)
    # Foreach fan-outs create many Jobs at once from the scheduler thread while watch and log
    # threads hold their own connections: size the pool for that.
    conf.connection_pool_maxsize = max(getattr(conf, "connection_pool_maxsize", 4) or 4, 32)
    return client.ApiClient(conf)
