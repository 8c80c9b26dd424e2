"""Figures for the platform CLI: start-up of ``platform --help`` and, with ``--moto``, the wall
time of ``platform init dev --yes`` and ``platform destroy dev --yes --delete-data`` against a
local moto server (a test double of AWS, not AWS) with the real Terraform binary and the
offline provider mirror.

    python bench/platform_timings.py            # start-up only (a second or two)
    python bench/platform_timings.py --moto     # plus one init/destroy cycle (about 3 minutes)

Prints one JSON object. Against real AWS the apply is dominated by AWS itself (Batch compute
environments and queues, the KMS key), so these figures measure the CLI and Terraform's
overhead, not an account's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def help_startup(runs: int = 7) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "platform_cli.main", "--help"], cwd=REPO,
                       check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return {"help_median_s": round(statistics.median(times), 3),
            "help_best_s": round(min(times), 3)}


def moto_cycle() -> dict[str, float]:
    from tests.platform.conftest import (
        MOTO_OVERRIDES,
        MOTO_SETS,
        Platform,
        base_env,
        brought_state_bucket,
    )
    from tests.support.aws_env import MotoServer, find_provider_mirror
    from tests.terraform.helpers import copy_terraform_tree

    tmp = Path(tempfile.mkdtemp(prefix="platform-bench-"))
    stack = copy_terraform_tree(tmp / "terraform")
    for relative, text in MOTO_OVERRIDES.items():
        (stack / relative).write_text(text)
    with MotoServer(mode="process", env={"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
                    log_path=tmp / "moto.log") as server:
        env = base_env(tmp, server.url, find_provider_mirror())
        env["PLATFORM_TERRAFORM_DIR"] = str(stack)
        platform = Platform(env, tmp / "platform-home", Path(env["FLOWLIB_CONFIG"]), server)
        brought_state_bucket(platform)
        figures = {}
        for name, args in (("init_s", ["init", "dev", "--yes", *MOTO_SETS]),
                           ("init_again_s", ["init", "dev", "--yes"]),
                           ("status_s", ["status", "dev"]),
                           ("doctor_s", ["doctor", "dev"]),
                           ("destroy_s", ["destroy", "dev", "--yes", "--delete-data"])):
            result = platform.run(*args)
            if result.code != 0:
                raise SystemExit(f"platform {' '.join(args)} failed:\n{result.text}")
            figures[name] = round(result.seconds, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moto", action="store_true", help="also time an init/destroy cycle")
    args = parser.parse_args()
    figures: dict[str, object] = {"cpus": os.cpu_count(), **help_startup()}
    if args.moto:
        figures.update(moto_cycle())
    figures["commands_to_first_run"] = 2  # platform init dev; python flow.py run
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
