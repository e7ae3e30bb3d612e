from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    """A fresh database file path in the test's own temp directory."""
    return str(tmp_path / "log.db")
