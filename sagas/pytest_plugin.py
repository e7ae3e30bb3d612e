"""A pytest plugin for testing sagas with real actors.

Enable it in your ``conftest.py``::

    pytest_plugins = ["sagalog.sagas.pytest_plugin"]

    def test_order(sagalog_runtime, virtual_clock):
        add_order_workflow(sagalog_runtime, ...)
        sagalog_runtime.append(...)
        virtual_clock.advance(30)       # fire timers and retries without sleeping
        assert sagalog_runtime.wait_until_idle()

``sagalog_runtime`` is a running :class:`actors.Runtime` on a database in the test's
temporary directory (durability off: tests need no fsync), driven by ``virtual_clock``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sagalog.actors import Runtime, VirtualClock

__all__ = ["sagalog_runtime", "virtual_clock"]


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A clock that moves only when the test advances it."""
    return VirtualClock()


@pytest.fixture
def sagalog_runtime(tmp_path: Path, virtual_clock: VirtualClock) -> Iterator[Runtime]:
    """A running runtime on a temporary database, stopped after the test."""
    with Runtime(tmp_path / "sagalog.db", durability="off", clock=virtual_clock) as runtime:
        yield runtime
