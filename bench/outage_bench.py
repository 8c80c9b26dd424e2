"""A run through a 5-minute store outage (issue 10), too long for CI: prints what happened.

    python bench/outage_bench.py [--seconds 300]

A moto server (S3 + DynamoDB) behind the fault-injecting proxy of the tests
(``tests/support/fault_proxy.py``: connections dropped, 503s, DynamoDB throttling). The
outage starts once the run's middle step is running, so the runtime and a task both ride it out;
the run must succeed. Reported: the run's exit code and wall time, the outage, the faults
injected, and how many progress lines flowlib printed while it waited. Nothing is asserted
against a fixed time: the wall time is compared with the outage measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.fault_proxy import FaultProxy  # noqa: E402
from tests.support.moto_server import start_stack, write_config  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="outage length")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flowlib-outage-"))
    stack = start_stack(work / "moto.log")
    proxy = FaultProxy(stack.url).start()
    try:
        table = stack.create_table()
        prefix = f"bench/{uuid.uuid4().hex[:8]}"
        config = write_config(work / "config.json", {"bench": stack.profile(table, prefix)})
        marker = work / "middle.started"
        env = {**os.environ, **stack.env, "AWS_ENDPOINT_URL": proxy.url,
               "FLOWLIB_CONFIG": str(config), "FLOWLIB_PROFILE": "bench",
               "INTEGRITY_MARKER": str(marker), "INTEGRITY_SLEEP": "1",
               "FLOWLIB_STORE_RETRY_SECONDS": str(args.seconds + 300)}
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "flows" / "integrity_flow.py"), "run"],
            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not marker.exists() and proc.poll() is None:
            time.sleep(0.05)
        outage_at = time.monotonic()
        proxy.begin_outage(args.seconds)
        out, err = proc.communicate()
        total = time.monotonic() - started
        progress = sum("the store has been failing for" in line for line in err.splitlines())
        print("| measure | value |\n|---|---|")
        print(f"| exit code | {proc.returncode} |")
        print(f"| outage | {args.seconds:.0f} s |")
        print(f"| run wall time | {total:.1f} s |")
        print(f"| run after the outage began | {time.monotonic() - outage_at:.1f} s "
              f"({(time.monotonic() - outage_at) / args.seconds:.2f}x the outage) |")
        print(f"| faults injected | {dict(proxy.injected)} |")
        print(f"| progress lines printed | {progress} |")
        if proc.returncode != 0:
            print(out, err, file=sys.stderr)
        return proc.returncode
    finally:
        proxy.stop()
        stack.server.stop()


if __name__ == "__main__":
    sys.exit(main())
