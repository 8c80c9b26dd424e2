"""Environment tests build real virtualenvs with uv from the package index this machine
reaches. uv's download cache is shared by the whole session, so each package is fetched once."""

from __future__ import annotations

from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parent / "flows"


def shared_uv_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One uv download cache for every environment test of the session (also tests/remote)."""
    path = tmp_path_factory.getbasetemp() / "uv-cache"
    path.mkdir(exist_ok=True)
    return str(path)


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return shared_uv_cache(tmp_path_factory)


@pytest.fixture
def env_run(local, uv_cache: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001
    """``env_run(flow_file, *args, expect=0)`` on the local store, with the shared uv cache."""
    monkeypatch.setenv("UV_CACHE_DIR", uv_cache)

    def run(flow: str, *args: str, expect: int | None = 0, **kwargs):  # noqa: ANN202
        return local.run(FLOWS / flow, *args, env={"UV_CACHE_DIR": uv_cache}, expect=expect,
                         **kwargs)

    run.backend = local
    return run
