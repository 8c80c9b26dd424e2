# The scheduled gc job's command (`python -c` of this file, from the job definition): write
# the profiles the stack gave in FLOWLIB_GC_CONFIG_JSON to FLOWLIB_CONFIG, optionally pip
# install flowlib (FLOWLIB_GC_PIP, for an image without it), then run `flowlib gc --yes` on
# each profile (the environment's, then each isolated project's). Standard library only up to
# the gc itself; exits non-zero if any gc failed, after trying them all.
import json
import os
import shlex
import subprocess
import sys

config = os.environ["FLOWLIB_GC_CONFIG_JSON"]
with open(os.environ["FLOWLIB_CONFIG"], "w") as handle:
    handle.write(config)
pip = shlex.split(os.environ.get("FLOWLIB_GC_PIP", ""))
if pip:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-cache-dir", *pip],
                   check=True)
try:
    import flowlib.cli.flowlib_command  # noqa: F401 - only: is flowlib in this image?
except ImportError as exc:
    print(f"flowlib gc cannot run in this image ({exc}): set retention_gc_image to an image "
          "with flowlib and boto3 installed (images/Dockerfile), or retention_gc_pip_requirements "
          "to install them first.", file=sys.stderr, flush=True)
    sys.exit(78)
extra = shlex.split(os.environ.get("FLOWLIB_GC_ARGS", ""))
failed = []
for profile in json.loads(config)["profiles"]:
    command = ["flowlib", "gc", "--profile", profile, "--yes", *extra]
    print("$", shlex.join(command), flush=True)
    done = subprocess.run([sys.executable, "-m", "flowlib.cli.flowlib_command", *command[1:]])
    if done.returncode != 0:
        failed.append(profile)
if failed:
    print("gc failed for profile(s): " + ", ".join(failed), file=sys.stderr, flush=True)
sys.exit(1 if failed else 0)
