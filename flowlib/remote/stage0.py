"""Stage 0 of every task in a container: get flowlib and its dependencies, with the standard
library only, then run the real entry point.

Any image with a compatible Python runs a step (``python:3.11-slim``, a team's GPU image):
the container command is ``python -c <this file> --store ... --package ... [--runtime ...] --
-m flowlib.remote.<entry> ...``. This file runs before anything but the standard library can
be imported, so it does the least it can:

1. AWS credentials the way botocore finds them in a container: environment variables, the
   ECS/Batch (and EKS Pod Identity) container endpoint, an EKS service account's web identity
   (STS ``AssumeRoleWithWebIdentity``, an unsigned call), the EC2 instance metadata (IMDSv2).
2. ``GET`` of two S3 objects, signed with Signature Version 4 (``hashlib``/``hmac``; checked
   against botocore's signer in tests/remote/test_stage0.py), each verified against the
   SHA-256 the launching machine computed: the code package (the flow's files and flowlib's
   own package, ``flowlib.remote.package``) and the runtime bundle (flowlib's dependencies,
   installed for linux x86_64 and the image's python: ``flowlib.remote.runtime``). The bundle
   is unpacked once per host folder (and pruned from it when unused: the code package's
   ``flowlib.environments.host_cache``) and skipped when the image already has every
   dependency (an image built from images/).
3. ``exec`` of ``python <args after -->`` with both on ``PYTHONPATH`` (``FLOWLIB_CODE_DIR``
   names the unpacked package, so the entry point does not fetch it again).

This is the one place flowlib signs an AWS request itself: botocore is what it is fetching.
No package index is used, so it works in a VPC with no internet access.
"""

import datetime
import hashlib
import hmac
import io
import json
import os
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree

LIB_DIR = ".flowlib-lib"  # where the code package keeps flowlib's own package
CODE_DIR_ENV = "FLOWLIB_CODE_DIR"
RUNTIME_MODULES = ("boto3", "botocore", "click", "blake3", "zstandard", "jinja2", "markdown_it",
                   "tenacity")
CONFIG_EXIT = 78  # EX_CONFIG, like flowlib.remote.bootstrap: not a failure of the step
ATTEMPTS = 5


class Stage0Error(Exception):
    pass


def _http(method, url, headers=None, data=None, timeout=10):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.read()


def credentials(environ):
    """(access key, secret key, session token or None), as botocore finds them in a container."""
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return (environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"],
                environ.get("AWS_SESSION_TOKEN") or None)
    relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    full = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if relative or full:
        url = "http://169.254.170.2" + relative if relative else full
        headers = {}
        token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        if environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
            with open(environ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]) as handle:
                token = handle.read().strip()
        if token:
            headers["Authorization"] = token
        data = json.loads(_http("GET", url, headers))
        return data["AccessKeyId"], data["SecretAccessKey"], data.get("Token")
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN"):
        with open(environ["AWS_WEB_IDENTITY_TOKEN_FILE"]) as handle:
            token = handle.read().strip()
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = (environ.get("AWS_ENDPOINT_URL_STS") or environ.get("AWS_ENDPOINT_URL")
                    or f"https://sts.{region}.amazonaws.com")
        body = urllib.parse.urlencode({
            "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
            "RoleArn": environ["AWS_ROLE_ARN"], "WebIdentityToken": token,
            "RoleSessionName": environ.get("AWS_ROLE_SESSION_NAME") or "flowlib-task"}).encode()
        reply = ElementTree.fromstring(_http(
            "POST", endpoint, {"Content-Type": "application/x-www-form-urlencoded"}, body))
        found = {el.tag.rpartition("}")[2]: el.text for el in reply.iter()}
        return found["AccessKeyId"], found["SecretAccessKey"], found.get("SessionToken")
    base = "http://169.254.169.254/latest"
    token = _http("PUT", f"{base}/api/token",
                  {"X-aws-ec2-metadata-token-ttl-seconds": "21600"}, timeout=2).decode()
    headers = {"X-aws-ec2-metadata-token": token}
    role = _http("GET", f"{base}/meta-data/iam/security-credentials/", headers).decode().split()
    if not role:
        raise Stage0Error("no AWS credentials: no job role, service account or instance role")
    data = json.loads(_http("GET", f"{base}/meta-data/iam/security-credentials/{role[0]}",
                            headers))
    return data["AccessKeyId"], data["SecretAccessKey"], data.get("Token")


def object_url(environ, bucket, key, region):
    """Path-style under a custom endpoint (and for dotted bucket names), else virtual-hosted."""
    quoted = urllib.parse.quote(key, safe="/~")
    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{quoted}"
    if "." in bucket:
        return f"https://s3.{region}.amazonaws.com/{bucket}/{quoted}"
    return f"https://{bucket}.s3.{region}.amazonaws.com/{quoted}"


def sign_get(url, region, creds, now):
    """The headers of a SigV4-signed S3 GET of ``url`` (empty payload)."""
    access, secret, token = creds
    parts = urllib.parse.urlsplit(url)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    payload = hashlib.sha256(b"").hexdigest()
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    canonical = "\n".join([
        "GET", parts.path or "/", parts.query, "".join(f"{n}:{headers[n]}\n" for n in names),
        ";".join(names), payload])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={signature}")
    del headers["host"]
    return headers


def fetch(environ, store, key, sha256, creds):
    """The verified bytes of blob ``key`` of the store ``s3://bucket/prefix/Flow/data`` (or of
    a local datastore's folder ``/.../Flow/data`` on a filesystem the container shares)."""
    if not store.startswith("s3://"):
        with open(os.path.join(store, key[:2], key), "rb") as handle:
            return verified(handle.read(), sha256, store)
    bucket, _, prefix = store.removeprefix("s3://").partition("/")
    region = environ.get("FLOWLIB_STAGE0_REGION") or environ.get("AWS_REGION") or "us-east-1"
    url = object_url(environ, bucket, f"{prefix.rstrip('/')}/{key[:2]}/{key}".lstrip("/"),
                     region)
    for attempt in range(ATTEMPTS):
        try:
            now = datetime.datetime.now(datetime.timezone.utc)
            data = _http("GET", url, sign_get(url, region, creds, now), timeout=60)
            break
        except urllib.error.HTTPError as exc:
            if exc.code < 500 and exc.code != 429 or attempt == ATTEMPTS - 1:
                detail = exc.read()[:300].decode(errors="replace")
                raise Stage0Error(f"GET {url} answered {exc.code}: {detail}") from None
        except OSError as exc:
            if attempt == ATTEMPTS - 1:
                raise Stage0Error(f"GET {url} failed: {exc}") from None
        time.sleep(0.5 * 2 ** attempt)
    return verified(data, sha256, url)


def verified(data, sha256, where):
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Stage0Error(f"{where} does not hold the expected bytes (SHA-256 mismatch)")
    return data


def extract(data, dest):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if member.name.startswith("/") or ".." in parts or not member.isfile():
                raise Stage0Error(f"unsafe entry in a package: {member.name!r}")
        tar.extractall(dest)  # noqa: S202 - every member was checked above


def cached_bundle(workdir, key, load):
    """The folder of bundle ``key`` in the host folder (``FLOWLIB_ENVIRONMENTS_DIR``): unpacked
    once per host, held by this task while it runs, pruned when unused, by the code package's
    ``flowlib.environments.host_cache`` (the cache of ``flowlib.environments.remote`` too)."""
    shared = os.environ.get("FLOWLIB_ENVIRONMENTS_DIR")  # else the container's own /tmp
    base = shared or os.path.join(tempfile.gettempdir(), "flowlib-env")
    return host_cache(workdir).use(base, key, load, pruning=bool(shared))


def host_cache(workdir):
    """``flowlib.environments.host_cache`` (standard library only) from the unpacked code
    package, loaded by itself: the rest of flowlib needs what the bundle brings, and the
    container command stays small (it is the one module stage 0 takes from there)."""
    import importlib.util

    path = os.path.join(workdir, LIB_DIR, "flowlib", "environments", "host_cache.py")
    spec = importlib.util.spec_from_file_location("_flowlib_host_cache", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def image_has_runtime():
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in RUNTIME_MODULES)


def prepare(argv, environ):
    """(python arguments, environment) of the entry point to exec."""
    args = {}
    while argv and argv[0] != "--":
        if len(argv) < 2:
            raise Stage0Error(f"stage 0: option {argv[0]} needs a value")
        args[argv[0]] = argv[1]
        argv = argv[2:]
    python_args = argv[1:]
    store = args["--store"]
    env = dict(environ)
    if "--region" in args:
        env["FLOWLIB_STAGE0_REGION"] = args["--region"]
    package_key, _, package_sha = args["--package"].partition(":")
    started = time.monotonic()
    creds = credentials(env) if store.startswith("s3://") else None
    workdir = tempfile.mkdtemp(prefix="flowlib-task-")
    extract(fetch(env, store, package_key, package_sha, creds), workdir)
    paths = [os.path.join(workdir, LIB_DIR)]
    runtime = args.get("--runtime")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if runtime and not image_has_runtime():
        runtime_key, runtime_sha, python = runtime.split(":")
        if python != here:
            raise Stage0Error(
                f"this image runs python {here}, but the run shipped flowlib's dependencies "
                f"for python {python} and the image does not have them (boto3, ...): use an "
                f"image with python {python} (e.g. python:{python}-slim), set the profile's "
                f"image to one whose tag names its python version (python:{here}-slim), or "
                "install flowlib's dependencies in the image (images/).")
        paths.append(cached_bundle(
            workdir, runtime_key, lambda: fetch(env, store, runtime_key, runtime_sha, creds)))
        env["FLOWLIB_RUNTIME_BUNDLE"] = runtime_key  # a blob the task uses (retention)
    elif not image_has_runtime():
        raise Stage0Error(
            "this image does not have flowlib's dependencies (boto3, ...) and the run shipped "
            "none: install uv on the launching machine (pip install uv) so that runs ship "
            "them, or install them in the image (images/).")
    env.pop("FLOWLIB_STAGE0_REGION", None)
    env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    env[CODE_DIR_ENV] = workdir
    env["FLOWLIB_STAGE0_SECONDS"] = f"{time.monotonic() - started:.3f}"
    return python_args, env


def main(argv):
    try:
        python_args, env = prepare(argv, os.environ)
    except (Stage0Error, KeyError, ValueError, OSError) as exc:
        print(f"flowlib: cannot start the task: {exc}", file=sys.stderr, flush=True)
        return CONFIG_EXIT
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *python_args], env)
    return 0  # pragma: no cover - execve does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
