"""The store contract's backends: every test in this folder runs once on each.

As pykka's ``tests/conftest.py`` runs its suite on every runtime of ``RUNTIMES``, the
``backend`` fixture here is parametrized over :data:`BACKENDS`, and a test asks for a
``store`` (a writable store on a fresh log) or for ``log`` (the test's one log, to open
as often as it needs: read-only beside a writer, or a second writer). A new backend is
one more entry here, and this suite tells it what it got wrong.

An in-memory log lives while a store has it open, so a test that reopens one keeps its
first store open meanwhile (the ``store`` fixture does).

:data:`KNOWN_GAPS` lists what a backend does not do yet, each as a strict xfail that
expects the failure named: a gap that closes fails the suite until its line is deleted,
and any other failure of the same test still fails it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from uuid import uuid4

import pytest

from sagalog.store import EventStoreProtocol, LogReaderProtocol, open_store

BACKENDS = ["sqlite", "memory"]
"""Every backend of :func:`open_store` the contract is checked on."""


class Gap(NamedTuple):
    """Why a backend fails a contract test today, and the exception that shows it."""

    reason: str
    raises: tuple[type[BaseException], ...]


_MISSING = (AttributeError, TypeError)  # a method, or an argument of one, not there yet
_SHAPE = (AssertionError,)  # isinstance() against a Protocol it does not fully have
_LENIENT = (pytest.fail.Exception, TypeError)  # bad input accepted (or a raw TypeError)


def _missing(method: str) -> Gap:
    return Gap(f"SQLite lacks {method} (the lead's rewrite adds it)", _MISSING)


KNOWN_GAPS: dict[str, Gap] = {}
"""Contract tests a backend fails today, by ``file::name[parameters]``, and why."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test of :data:`KNOWN_GAPS` as a strict xfail expecting its failure."""
    folder = Path(__file__).parent
    for item in items:
        if item.path.parent != folder:
            continue
        gap = KNOWN_GAPS.get(f"{item.path.name}::{item.name}")
        if gap is not None:
            item.add_marker(pytest.mark.xfail(reason=gap.reason, raises=gap.raises,
                                              strict=True))


class LogHandle:
    """One test's log on one backend; opens it as often as the test asks, closes all after."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.target = (str(folder / "log.db") if backend == "sqlite"
                       else f"memory:contract-{uuid4().hex}")
        """What :func:`open_store` is given: a file, or a name no other test uses."""
        self._opened: list[LogReaderProtocol] = []

    def open(self, **options: Any) -> EventStoreProtocol:
        """A writable store on the log (SQLite without fsync: the suite tests semantics)."""
        store = open_store(self.target, **self._options(options))
        self._opened.append(store)
        return store

    def open_read_only(self, **options: Any) -> LogReaderProtocol:
        """A read-only store on the log, which must exist (be open, for memory)."""
        reader = open_store(self.target, read_only=True, **self._options(options))
        self._opened.append(reader)
        return reader

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        if self.backend == "sqlite":
            options.setdefault("durability", "off")
        return options

    def close_all(self) -> None:
        for store in reversed(self._opened):
            store.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend this run of the test is checking."""
    return str(request.param)


@pytest.fixture
def log(backend: str, tmp_path: Path) -> Iterator[LogHandle]:
    """The test's log on ``backend``; every store opened on it is closed afterwards."""
    handle = LogHandle(backend, tmp_path)
    yield handle
    handle.close_all()


@pytest.fixture
def store(log: LogHandle) -> EventStoreProtocol:
    """A writable store on a fresh, empty log."""
    return log.open()
