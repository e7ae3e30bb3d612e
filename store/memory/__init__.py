"""The in-memory backend: a log held in this process's memory, with SQLite's semantics.

``open_store("memory:")`` is a fresh log only its own store sees; ``open_store("memory:NAME")``
is one log shared by every store of this process that opens NAME while any of them has
it open (the last to close forgets it). What it is for: tests and examples that want a
real store without a file, and the contract suite's second backend. ``durability`` is
accepted and ignored: nothing survives the process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagalog.store.memory._store import MemoryEventStore

if TYPE_CHECKING:
    from sagalog.store._contract import EventStoreProtocol
    from sagalog.store._factory import StoreOptions

__all__ = ["MemoryEventStore", "open_target"]


def open_target(location: str, options: StoreOptions) -> EventStoreProtocol:
    """Open the in-memory log named ``location`` ("" for a private one)."""
    store: EventStoreProtocol = MemoryEventStore.open(
        location or None, read_only=options.read_only, registry=options.registry,
        clock=options.clock, poll_interval=options.poll_interval,
        run_status=options.run_status,
    )
    return store
