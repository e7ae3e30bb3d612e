"""The SQLite backend: the embedded default, one log in one file (or in memory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagalog.store._contract import EventStoreProtocol
    from sagalog.store._factory import StoreOptions

__all__ = ["open_target"]


def open_target(location: str, options: StoreOptions) -> EventStoreProtocol:
    """Open the SQLite log at ``location`` (a path, or ``:memory:``)."""
    from sagalog.store._sync import SyncEventStore  # noqa: PLC0415 - the backend loads on use

    store: EventStoreProtocol = SyncEventStore.open(  # type: ignore[assignment]
        location, durability=options.durability, registry=options.registry,
        clock=options.clock, poll_interval=options.poll_interval,
        read_only=options.read_only,
    )
    return store
