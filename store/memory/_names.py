"""The named in-memory logs of this process: ``memory:NAME`` is one log while it is open.

Every store that opens ``memory:NAME`` shares one :class:`MemoryLog` while any store has
it open; it is forgotten when the last of them closes (reference counted), so a name
opened again afterwards starts empty. ``memory:`` with no name is a fresh log that only
its own store sees. Nothing outlives the process.
"""

from __future__ import annotations

import threading

from sagalog.store._errors import NotADatabaseError
from sagalog.store.memory._log import MemoryLog

__all__ = ["acquire", "release"]

_lock = threading.Lock()
_open: dict[str, MemoryLog] = {}


def acquire(name: str | None, *, create: bool) -> MemoryLog:
    """The log named ``name`` (a new private one for None), counted as used once more.

    Raises:
        NotADatabaseError: ``create`` is False and no store of this process has a log
            named ``name`` open.

    """
    if name is None:
        log = MemoryLog(None)
        log.references = 1
        return log
    with _lock:
        shared = _open.get(name)
        if shared is None:
            if not create:
                msg = ("no store of this process has this in-memory log open (read-only: "
                       "nothing is created; an in-memory log lives while a store has it open)")
                raise NotADatabaseError(msg, path=f"memory:{name}")
            shared = _open[name] = MemoryLog(name)
        shared.references += 1
        return shared


def release(log: MemoryLog) -> None:
    """One store less uses ``log``; the last one forgets it."""
    with _lock:
        log.references -= 1
        if log.references == 0 and log.name is not None and _open.get(log.name) is log:
            del _open[log.name]
