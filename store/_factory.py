"""``open_store(target)``: the one way to open a log, whichever backend holds it.

A target is a path (the embedded SQLite default), or a URL whose scheme names the
backend: ``sqlite:PATH`` or ``sqlite:///ABSOLUTE/PATH``, ``memory:`` or ``memory:NAME``
(in this process only; one name is one log while any store has it open). Each backend
is a package under ``sagalog.store`` with an ``open_target`` function; adding one is a
folder and one line in :data:`BACKENDS`. Only the backend imports its driver.
"""

from __future__ import annotations

import os
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Literal, overload

from sagalog.store._errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sagalog.events import Registry
    from sagalog.store._contract import EventStoreProtocol, LogReaderProtocol, RunStatusHook

__all__ = ["BACKENDS", "Durability", "StoreOptions", "open_store", "parse_target"]

Durability = Literal["full", "normal", "off"]
"""``full`` syncs every commit to disk (the default); ``normal`` survives a process crash
but not a power loss; ``off`` is for tests."""

BACKENDS: dict[str, str] = {
    "sqlite": "sagalog.store.sqlite",
    "memory": "sagalog.store.memory",
}
"""URL scheme -> the package that opens it (its ``open_target``)."""


class StoreOptions:
    """The options every backend's ``open_target`` receives, checked once here."""

    __slots__ = ("clock", "durability", "poll_interval", "read_only", "registry", "run_status")

    def __init__(
        self,
        *,
        read_only: bool,
        durability: Durability,
        registry: Registry | None,
        clock: Callable[[], datetime] | None,
        poll_interval: float,
        run_status: Iterable[RunStatusHook],
    ) -> None:
        if durability not in ("full", "normal", "off"):
            msg = f"durability must be 'full', 'normal' or 'off', not {durability!r}"
            raise StoreError(msg)
        if not poll_interval > 0:
            msg = f"poll_interval must be a positive number of seconds, not {poll_interval!r}"
            raise StoreError(msg)
        self.read_only = read_only
        """Nothing can be written; a missing log is refused, not created."""
        self.durability: Durability = durability
        self.registry = registry
        """The message registry to decode with (None: the process-wide one)."""
        self.clock = clock
        """Where ``recorded_at`` comes from (None: the system clock, UTC)."""
        self.poll_interval = poll_interval
        """How often a caught-up subscription looks for other processes' appends (s)."""
        self.run_status = tuple(run_status)
        """The hooks that give runs their status (see :class:`RunStatusHook`)."""


def parse_target(target: str | os.PathLike[str]) -> tuple[str, str]:
    """``(scheme, location)`` of a target: a plain path is ``("sqlite", path)``.

    Raises:
        StoreError: the target is empty, or names a backend sagalog does not have.

    """
    text = os.fspath(target)
    if not text:
        msg = "the log's path is empty; name its file"
        raise StoreError(msg)
    scheme, colon, rest = text.partition(":")
    if not colon or len(scheme) < 2 or not scheme.isalnum():  # a path (C:\\ is a drive)
        return "sqlite", text
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres"):
        msg = (f"{text}: the PostgreSQL backend is not installed in this version of "
               "sagalog; use a SQLite path")
        raise StoreError(msg)
    if scheme not in BACKENDS:
        known = ", ".join(f"{name}:" for name in BACKENDS)
        msg = f"{text}: no backend for {scheme!r} (targets are a file path, or {known})"
        raise StoreError(msg)
    if scheme == "sqlite" and rest.startswith("//"):
        rest = rest[2:]  # sqlite:///abs/path -> /abs/path; sqlite://rel -> rel
    return scheme, rest


@overload
def open_store(
    target: str | os.PathLike[str],
    *,
    read_only: Literal[False] = False,
    durability: Durability = "full",
    registry: Registry | None = None,
    clock: Callable[[], datetime] | None = None,
    poll_interval: float = 0.05,
    run_status: Iterable[RunStatusHook] = (),
) -> EventStoreProtocol: ...


@overload
def open_store(
    target: str | os.PathLike[str],
    *,
    read_only: Literal[True],
    durability: Durability = "full",
    registry: Registry | None = None,
    clock: Callable[[], datetime] | None = None,
    poll_interval: float = 0.05,
    run_status: Iterable[RunStatusHook] = (),
) -> LogReaderProtocol: ...


@overload
def open_store(
    target: str | os.PathLike[str],
    *,
    read_only: bool,
    durability: Durability = "full",
    registry: Registry | None = None,
    clock: Callable[[], datetime] | None = None,
    poll_interval: float = 0.05,
    run_status: Iterable[RunStatusHook] = (),
) -> LogReaderProtocol: ...


def open_store(
    target: str | os.PathLike[str],
    *,
    read_only: bool = False,
    durability: Durability = "full",
    registry: Registry | None = None,
    clock: Callable[[], datetime] | None = None,
    poll_interval: float = 0.05,
    run_status: Iterable[RunStatusHook] = (),
) -> EventStoreProtocol | LogReaderProtocol:
    """Open the log at ``target`` with the backend its form names; close it when done.

    Example::

        with open_store("shop.db") as store:                     # SQLite, durability full
            store.append("order-1", [OrderPlaced(order_id="1")])
        with open_store("shop.db", read_only=True) as log:       # nothing can be written
            for record in log.read_all():
                print(record.position, record.type)

    Args:
        target: a file path, ``sqlite:PATH``, or ``memory:[NAME]``.
        read_only: open an existing log so that nothing can write to it (nor, for SQLite,
            checkpoint its WAL): the history tools read this way, also beside a worker.
        durability: ``full`` (the default), ``normal`` or ``off`` (see :data:`Durability`).
        registry: the message registry to decode with (default: the process-wide one).
        clock: where ``recorded_at`` comes from (default: the system clock, UTC).
        poll_interval: how often a caught-up subscription looks for appends made by
            other processes, in seconds.
        run_status: hooks that give runs their status (see :class:`RunStatusHook`).

    Raises:
        StoreError: a bad target or option; the backend's errors for the log itself
            (not a log, damaged, written by a newer sagalog, read-only...), each naming
            the target and leaving it as it was.

    """
    scheme, location = parse_target(target)
    options = StoreOptions(read_only=read_only, durability=durability, registry=registry,
                           clock=clock, poll_interval=poll_interval, run_status=run_status)
    backend = import_module(BACKENDS[scheme])
    store: EventStoreProtocol = backend.open_target(location, options)
    return store
