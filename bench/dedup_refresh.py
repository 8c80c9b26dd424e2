"""What gc's safety costs a deduplicating write: ``python bench/dedup_refresh.py``.

A task that saves an artifact already stored (deduplication) checks the stored blob; since the
gc race fix (``BlobStore.refresh_after``) it also refreshes the blob when it is older than half
the retention grace period. Three variants, interleaved in rounds in one run so machine load
hits them alike, on the local store and on S3 (moto server):

* ``before``: ``refresh_after = None``, the check the store made before the fix;
* ``after, fresh blob``: the default, a blob younger than ``refresh_after`` (the common case: a
  comparison on the date the check already read, no extra request or syscall);
* ``after, old blob``: every blob older than ``refresh_after`` (``0``): locally a shared
  ``flock`` and ``utime``, on S3 one PUT of the bytes in hand. It happens at most once per
  blob per ``refresh_after`` (84 h by default).

Prints artifacts (1 KiB each) deduplicated per second and the ratio to ``before``.
Options: ``--local N`` (default 2000 per variant and round), ``--s3 N`` (default 200),
``--rounds R`` (default 3).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

VARIANTS = {"before": None, "after, fresh blob": 84 * 3600.0, "after, old blob": 0.0}


def measure(store: Any, n: int, rounds: int) -> dict[str, float]:
    payloads = [[os.urandom(1024)] for _ in range(n)]
    for chunks in payloads:
        store.put(chunks)  # stored once: every put below deduplicates
    seconds = dict.fromkeys(VARIANTS, 0.0)
    for _ in range(rounds):
        for name, refresh_after in VARIANTS.items():
            store.refresh_after = refresh_after
            t0 = time.perf_counter()
            for chunks in payloads:
                store.put(chunks)
            seconds[name] += time.perf_counter() - t0
    return {name: n * rounds / s for name, s in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--local", type=int, default=2000)
    parser.add_argument("--s3", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    rows = []
    from flowlib.datastore.local import LocalBlobStore

    if args.local:
        root = Path(tempfile.mkdtemp(prefix="flowlib-bench-dedup-"))
        rows.append(("local", measure(LocalBlobStore(root, "F"), args.local, args.rounds)))
    if args.s3:
        from flowlib.config import Profile
        from flowlib.config.aws import AwsContext
        from flowlib.datastore.s3 import S3BlobStore
        from tests.support.aws_env import patched_environ
        from tests.support.moto_server import start_stack

        stack = start_stack()
        try:
            with patched_environ(stack.env):
                profile = Profile("bench", {"region": stack.region, "datastore": "s3",
                                            "s3_bucket": stack.bucket,
                                            "s3_kms_key_arn": stack.kms_key_arn}, {})
                store = S3BlobStore(AwsContext(profile), stack.bucket,
                                    f"bench/{uuid.uuid4().hex[:8]}", "F")
                rows.append(("S3 (moto server)", measure(store, args.s3, args.rounds)))
        finally:
            stack.server.stop()
    print(f"\n### deduplicated artifacts per second (1 KiB; load {os.getloadavg()[0]:.1f})\n")
    print("| store | " + " | ".join(VARIANTS) + " |")
    print("|---|" + "---:|" * len(VARIANTS))
    for store, rates in rows:
        base = rates["before"]
        print(f"| {store} | " + " | ".join(
            f"{rate:,.0f} ({rate / base:.2f}x)" for rate in rates.values()) + " |")


if __name__ == "__main__":
    main()
