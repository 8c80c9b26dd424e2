"""Fixtures of the AWS-specific tests (the moto server is shared with the flow suite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.moto_server import aws_backend

FLOWS = Path(__file__).resolve().parent / "flows"


@pytest.fixture
def aws(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[Backend]:
    """The AWS profile on a fresh table and prefix; this process's client points at it."""
    chosen = aws_backend(request, tmp_path)
    chosen.activate(monkeypatch)
    yield chosen
    from flowlib.stores import reset_stores

    reset_stores()


@pytest.fixture
def stores(aws: Backend):
    """The opened stores of the ``aws`` profile, in this process."""
    from flowlib.stores import open_stores

    return open_stores()
