"""Shared fixtures. ``backend`` is the store a flow test runs against (see support/backends)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backends import Backend, local_backend
from tests.support.moto_server import aws_backend, moto_stack  # noqa: F401 - fixture

BACKENDS = ["local", "aws"]


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    """A fresh, empty store of each kind; the client in this process points at it."""
    if request.param == "aws":
        chosen = aws_backend(request, tmp_path)
    else:
        chosen = local_backend(tmp_path)
    chosen.activate(monkeypatch)
    yield chosen
    from flowlib.stores import reset_stores

    reset_stores()


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """The local store only (tests of local-only behaviour such as file corruption)."""
    chosen = local_backend(tmp_path)
    chosen.activate(monkeypatch)
    yield chosen
    from flowlib.stores import reset_stores

    reset_stores()
