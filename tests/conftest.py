from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["sagalog.sagas.pytest_plugin"]


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    """A fresh database file path in the test's own temp directory."""
    return str(tmp_path / "log.db")


@pytest.fixture
def logs():
    """sagalog's log records during the test, captured through a loguru sink."""
    from loguru import logger

    from sagalog.events import enable_logging
    from tests.support import LogCapture

    capture = LogCapture()
    enable_logging()
    sink = logger.add(capture, level="DEBUG")
    yield capture
    logger.remove(sink)
    logger.disable("sagalog")
