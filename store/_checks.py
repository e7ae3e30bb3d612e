"""The checks every backend makes on arguments the shared ``prepare`` does not see.

Positions, limits, checkpoints, metadata, run queries (and type filters, in ``_types``):
each refused with a typed error that says what was wrong, in the caller's thread, before
anything is read or locked, so every backend refuses the same input the same way. Light
on purpose: a read-only SQLite open must not load pydantic.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sagalog.store._contract import RunQuery
from sagalog.store._errors import StoreError
from sagalog.store._ids import check_id

if TYPE_CHECKING:
    from sagalog.store._append import Checkpoint

__all__ = [
    "check_checkpoint",
    "check_event_id",
    "check_expected_position",
    "check_limit",
    "check_metadata",
    "check_number",
    "check_query",
]


def check_checkpoint(checkpoint: Checkpoint | tuple[object, object]) -> Checkpoint:
    """``checkpoint`` if its name is a non-empty str and its position an int >= 0."""
    name, position = checkpoint
    if not isinstance(name, str) or not name:
        msg = f"checkpoint name must be a non-empty str, not {name!r}"
        raise StoreError(msg)
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        msg = f"checkpoint position must be an int >= 0, not {position!r}"
        raise StoreError(msg)
    from sagalog.store._append import Checkpoint  # noqa: PLC0415 - writers only: pydantic

    return Checkpoint(name, position)


def check_expected_position(position: object) -> int | None:
    """``position`` if it is None or an int >= 0 (where ``append_stream`` expects the end)."""
    if position is not None and (
            not isinstance(position, int) or isinstance(position, bool) or position < 0):
        msg = f"expected_position must be None or an int >= 0, not {position!r}"
        raise StoreError(msg)
    return position


def check_event_id(value: object) -> bytes:
    """The 16 bytes of ``value`` if it is a UUID."""
    from uuid import UUID  # noqa: PLC0415 - UUID is imported anyway; keeps the top light

    if not isinstance(value, UUID):
        msg = f"an event id must be a UUID, not {type(value).__name__} {value!r}"
        raise StoreError(msg)
    return value.bytes


def check_number(value: object, what: str) -> int:
    """``value`` if it is an int (a position or a version to read from or at).

    Any int reads (a start before 1 reads from the first record, one past the end reads
    nothing); anything else is refused: SQLite would compare a text with the column and
    answer something, and memory could not compare it at all.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"{what} must be an int, not {type(value).__name__} {value!r}"
        raise StoreError(msg)
    return value


def check_limit(limit: object) -> int:
    """``limit`` if it is an int >= 0 (how many records a page may hold)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        msg = f"limit must be an int >= 0, not {limit!r}"
        raise StoreError(msg)
    return limit


def check_metadata(key: object, value: object) -> tuple[str, str]:
    """A metadata entry: the key an id (no control characters), the value portable text.

    A value may hold line breaks (a description), but not what a stricter database
    refuses: NUL, or a lone surrogate (not UTF-8).
    """
    checked = check_id(key, "metadata key")
    if not isinstance(value, str):
        msg = f"metadata value for {checked!r} must be a str, not {type(value).__name__}"
        raise StoreError(msg)
    if "\x00" in value:
        msg = f"metadata value for {checked!r} contains a NUL character"
        raise StoreError(msg)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        msg = f"metadata value for {checked!r} contains a lone surrogate at {error.start}"
        raise StoreError(msg) from error
    return checked, value


def check_query(query: object) -> RunQuery:
    """``query`` checked, its ``since`` spelled as ``recorded_at`` is stored.

    Stored times are compared as text, so ``since`` must be written the same way
    (``2024-05-01T12:00:00.000000+00:00``): ``...Z`` or a time without microseconds
    would compare wrongly by a character. A time without an offset is taken as UTC.
    """
    if not isinstance(query, RunQuery):
        msg = f"runs() takes a RunQuery, not {type(query).__name__}"
        raise StoreError(msg)
    check_limit(query.limit)
    if query.since is None:
        return query
    try:
        moment = datetime.fromisoformat(query.since)
    except (TypeError, ValueError) as error:
        msg = f"RunQuery.since must be an ISO 8601 time, not {query.since!r}"
        raise StoreError(msg) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    since = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return dataclasses.replace(query, since=since)
