"""flowlib profiles: written from the stack's ``flowlib_config`` output, never by hand.

The format and its validation belong to ``flowlib.config`` (``load_config``; writing:
``flowlib.config.writing.profile_from_stack_output``, ``write_profile``); this module only adds
what the CLI needs on top: remove a profile, make one the default, export and import, and
compare with the stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platform_cli.errors import PlatformError


def profile_for_stack(flowlib_config: dict[str, Any]) -> dict[str, Any]:
    from flowlib.config.writing import profile_from_stack_output

    return profile_from_stack_output(flowlib_config)


def project_profiles_for_stack(flowlib_config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``<env>-<project>`` profiles of the stack's isolated projects (empty without any)."""
    from flowlib.config.writing import project_profiles_from_stack_output

    return project_profiles_from_stack_output(flowlib_config)


def write(name: str, profile: dict[str, Any], make_default: bool = False) -> tuple[Path, bool]:
    """Write profile ``name``; returns (file, changed) so re-runs can say "unchanged"."""
    from flowlib.config.writing import write_profile

    current = read(name)
    if current == profile and not make_default:
        from flowlib.config import config_path

        return config_path(), False  # type: ignore[return-value]
    return write_profile(name, profile, make_default=make_default), True


def read(name: str) -> dict[str, Any] | None:
    from flowlib.config import load_config

    return load_config().get("profiles", {}).get(name)


def all_profiles() -> tuple[dict[str, Any], str | None]:
    from flowlib.config import load_config

    config = load_config()
    return config.get("profiles", {}), config.get("default_profile")


def remove(name: str) -> bool:
    """Remove profile ``name`` (and the default if it pointed at it); True if it existed."""
    from flowlib.config.writing import remove_profile

    return remove_profile(name)


def use(name: str) -> Path:
    from flowlib.config.writing import set_default_profile

    if read(name) is None:
        raise PlatformError(f"No flowlib profile '{name}' on this machine.",
                            hint=f"`platform init {name}` writes it, or `platform configure "
                                 "import FILE` with a file from ops")
    return set_default_profile(name)


def export(name: str) -> dict[str, Any]:
    profile = read(name)
    if profile is None:
        raise PlatformError(f"No flowlib profile '{name}' to export.",
                            hint=f"run `platform init {name}` (ops) first")
    return {"schema_version": 1, "profiles": {name: profile}}


def import_file(path: Path, make_default: bool) -> list[str]:
    """Import every profile of a file written by ``platform env export`` (validated by
    flowlib exactly like its own config file)."""
    from flowlib.config import load_config
    from flowlib.config.writing import write_profile
    from platform_cli.environments import validate_name

    if not path.is_file():
        raise PlatformError(f"No such file: {path}.")
    data = load_config(path)
    names = sorted(data.get("profiles", {}))
    if not names:
        raise PlatformError(f"{path} holds no profile.")
    for name in names:  # all checked before anything is written
        try:
            validate_name(name)
        except PlatformError as exc:
            raise PlatformError(f"{path}: {exc} Nothing was imported.") from None
    for name in names:
        write_profile(name, data["profiles"][name], make_default=make_default and len(names) == 1)
    return names


def compare(on_disk: dict[str, Any] | None, expected: dict[str, Any]) -> list[str]:
    if on_disk is None:
        return ["the profile is missing"]
    problems = []
    for key in sorted(set(on_disk) | set(expected)):
        if on_disk.get(key) != expected.get(key):
            problems.append(f"{key}: profile has {on_disk.get(key)!r}, stack says "
                            f"{expected.get(key)!r}")
    return problems
