"""Shared fixtures: the real data beside the repo (``RATRACK_DATA``, default ``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    return Path(os.environ.get("RATRACK_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data folder. Missing data fails under ``CI=true`` and skips elsewhere."""
    root = _data_root()
    if not root.is_dir():
        message = f"real data not found at {root} (set RATRACK_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root


@pytest.fixture
def one_thread():
    """One torch (and OpenCV) CPU thread for the test: the reference boxes were recorded so, and
    two threads on a shared two-core machine can be 20x slower than one."""
    from ratrack.devices import cpu_threads

    with cpu_threads(1):
        yield
