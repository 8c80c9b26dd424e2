"""The entry point of a task in a container, run by stage 0 (``flowlib.remote.stage0``, which
put flowlib from the code package and its dependencies on the path): take the flow's code
package stage 0 unpacked (or fetch it), check that this flowlib is the one that launched the
run, then run the standalone step command (for a step with @pypi/@conda, with its environment
bundle unpacked onto the path first).

    python -m flowlib.remote.bootstrap --flow F --package KEY --expect-version V
        [--environment BUNDLE] -- step ...

The stores come from the environment the launcher set (the profile's keys as variables).
"""

from __future__ import annotations

import argparse
import os
import sys

from flowlib.exceptions import FlowlibError
from flowlib.version import __version__

VERSION_MISMATCH_EXIT = 78  # EX_CONFIG: a configuration problem, not a failure of the step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flowlib.remote.bootstrap")
    parser.add_argument("--flow", required=True)
    parser.add_argument("--package", required=True)
    parser.add_argument("--expect-version", required=True)
    parser.add_argument("--environment", help="blob key of the step's @pypi/@conda bundle")
    parser.add_argument("step_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    step_args = args.step_args[1:] if args.step_args[:1] == ["--"] else args.step_args
    if args.expect_version != __version__:
        print(
            f"flowlib version mismatch: the run was launched with flowlib {args.expect_version} "
            f"but this image has flowlib {__version__}. Rebuild and push the image from the "
            "same checkout (images/README.md), or install the matching version locally.",
            file=sys.stderr,
        )
        return VERSION_MISMATCH_EXIT
    from flowlib.remote.package import unpacked_package
    from flowlib.stores import open_stores

    try:
        workdir, manifest = unpacked_package(open_stores(), args.flow, args.package)
    except FlowlibError as exc:
        print(f"flowlib: cannot fetch the code package: {exc}", file=sys.stderr)
        return 1
    env = dict(os.environ)
    if args.environment:
        try:
            env.update(environment_variables(args.flow, args.environment, env))
        except FlowlibError as exc:
            print(f"flowlib: cannot set up the step's environment: {exc}", file=sys.stderr)
            return VERSION_MISMATCH_EXIT
    os.chdir(workdir)
    # The task records which package it ran (flowlib.cost.resources): gc keeps the packages of
    # kept runs.
    env["FLOWLIB_CODE_PACKAGE"] = args.package
    script = str(workdir / manifest["script"])
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, script, *step_args], env)
    return 0  # pragma: no cover - execv does not return


def environment_variables(flow: str, bundle_key: str, env: dict[str, str]) -> dict[str, str]:
    """Unpack the step's environment bundle (no package index involved) and put it first on
    the task's path; the task records the bundle's environment (``Task.environment``)."""
    from flowlib.environments.record import RECORD_FILE
    from flowlib.environments.remote import RECORD_ENV, unpack_bundle
    from flowlib.stores import open_stores

    site, _ = unpack_bundle(open_stores().artifacts(flow).blobs, bundle_key)
    path = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, RECORD_ENV: str(site / RECORD_FILE)}


if __name__ == "__main__":
    sys.exit(main())
