"""The SQLite backend: the embedded default, one log in one file (or ``:memory:``).

Only this package imports ``sqlite3`` (``tests/store/test_layering.py`` holds that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagalog.store.sqlite._store import SqliteEventStore

if TYPE_CHECKING:
    from sagalog.store._contract import EventStoreProtocol
    from sagalog.store._factory import StoreOptions

__all__ = ["SqliteEventStore", "open_target"]


def open_target(location: str, options: StoreOptions) -> EventStoreProtocol:
    """Open the SQLite log at ``location`` (a path, or ``:memory:``)."""
    return SqliteEventStore.open(
        location, durability=options.durability, registry=options.registry,
        clock=options.clock, poll_interval=options.poll_interval,
        read_only=options.read_only, run_status=options.run_status,
    )
