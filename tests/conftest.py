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
