"""The one place that runs uv: resolve requirements into a lock, build a virtualenv from one.

uv comes as a wheel from PyPI (the ``uv`` package ships the binary; ``uv.find_uv_bin``). It
uses the package index of its own configuration (``UV_DEFAULT_INDEX`` / ``UV_INDEX_URL``,
``uv.toml``; PyPI by default). It never downloads a Python here (``UV_PYTHON_DOWNLOADS=never``):
an environment's python must exist on the machine, which is checked when resolving.

uv's messages are kept for the user (they name the package and the conflict); ``UvError``
wraps them in one sentence saying which environment failed and what to change.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from flowlib.exceptions import FlowlibError


class UvError(FlowlibError):
    """uv could not resolve or build an environment."""


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise FlowlibError(
            "@pypi/@conda need uv: install it with: pip install uv (or pip install "
            "'flowlib-platform[environments]')."
        ) from None
    return find_uv_bin()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    env.pop("VIRTUAL_ENV", None)  # never install into the launching virtualenv by accident
    env["NO_COLOR"] = "1"
    return env


def run_uv(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [uv_binary(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )


def find_python(version: str) -> str | None:
    """The path of an installed interpreter for ``version`` (None if the machine has none)."""
    found = run_uv(["python", "find", "--system", version])
    path = found.stdout.strip()
    return path if found.returncode == 0 and path else None


def compile_lock(requirements: str, python: str, platform: str | None = None) -> str:
    """Resolve ``requirements`` for ``python`` into a lock: every distribution pinned, with the
    hashes of its files (``uv pip compile --generate-hashes``). With ``platform`` (uv's
    ``--python-platform``, e.g. ``x86_64-manylinux_2_28``) it resolves for another machine (a
    container) and needs no local interpreter of that version."""
    target = (
        ["--python", python]
        if platform is None
        else ["--python-version", python, "--python-platform", platform]
    )
    result = run_uv(
        [
            "pip", "compile", "-", *target, "--generate-hashes", "--no-header",
            "--no-annotate", "--quiet",
        ],
        stdin=requirements,
    )
    if result.returncode != 0:
        raise UvError(explain(result.stderr))
    return result.stdout


def build_venv(lock_text: str, python: str, target: Path) -> None:
    """Create a virtualenv at ``target`` holding exactly the lock's distributions."""
    made = run_uv(["venv", "--quiet", "--relocatable", "--python", python, str(target)])
    if made.returncode != 0:
        raise UvError(explain(made.stderr))
    lock_file = target / "flowlib-lock.txt"
    lock_file.write_text(lock_text)
    synced = run_uv(
        [
            "pip", "sync", "--quiet", "--require-hashes", "--python",
            str(target / "bin" / "python"), str(lock_file),
        ]
    )
    if synced.returncode != 0:
        raise UvError(explain(synced.stderr))


def install_target(lock_text: str, python: str, platform: str, target: Path) -> None:
    """Install exactly the lock's distributions for another machine into the folder ``target``
    (importable by putting it on ``PYTHONPATH``): what a container unpacks, with no index."""
    target.mkdir(parents=True, exist_ok=True)
    lock_file = target.parent / f".{target.name}.lock.txt"
    lock_file.write_text(lock_text)
    try:
        done = run_uv(
            [
                "pip", "install", "--quiet", "--target", str(target), "--python-version",
                python, "--python-platform", platform, "--no-deps", "--require-hashes",
                "-r", str(lock_file),
            ]
        )
    finally:
        lock_file.unlink(missing_ok=True)
    if done.returncode != 0:
        raise UvError(explain(done.stderr))


_NOISE = re.compile(r"^\s*(hint:|help:)", re.IGNORECASE)
_WARNING = re.compile(r"^warning:", re.IGNORECASE)


def explain(stderr: str) -> str:
    """uv's own explanation, without colour codes, blank lines and ``hint:`` paragraphs."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", stderr or "").strip()
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    kept: list[str] = []
    skipping = False
    for line in lines:
        if _NOISE.match(line):
            break
        if _WARNING.match(line):  # uv's warnings (an unusable interpreter on PATH...)
            skipping = True
            continue
        if skipping and line[:1].isspace():
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept) or "uv failed without a message"
