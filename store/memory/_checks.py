"""The checks a backend makes on arguments the shared ``prepare`` does not see.

Type filters, checkpoints, metadata, run queries: each refused with a typed error that
says what was wrong, in the caller's thread, before the log's lock is taken. The first
two say exactly what the SQLite backend says (its ``_type_names`` and
``_check_checkpoint``); they belong in a module both backends import.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sagalog.events import Message
from sagalog.store._append import Checkpoint
from sagalog.store._contract import RunQuery
from sagalog.store._errors import StoreError
from sagalog.store._ids import check_id

if TYPE_CHECKING:
    from sagalog.store._contract import Types

__all__ = [
    "check_checkpoint",
    "check_limit",
    "check_metadata",
    "check_number",
    "check_query",
    "type_names",
]


def type_names(types: Types) -> list[str] | None:
    """The registered names of ``types`` (classes or names); None reads every type."""
    if types is None:
        return None
    names = []
    for kind in types:
        if isinstance(kind, str):
            names.append(kind)
        elif isinstance(kind, type) and issubclass(kind, Message) and hasattr(kind, "message_type"):
            names.append(kind.message_type)
        else:
            msg = f"types must hold message classes or type names, not {kind!r}"
            raise StoreError(msg)
    return names


def check_checkpoint(checkpoint: Checkpoint | tuple[object, object]) -> Checkpoint:
    """``checkpoint`` if its name is a non-empty str and its position an int >= 0."""
    name, position = checkpoint
    if not isinstance(name, str) or not name:
        msg = f"checkpoint name must be a non-empty str, not {name!r}"
        raise StoreError(msg)
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        msg = f"checkpoint position must be an int >= 0, not {position!r}"
        raise StoreError(msg)
    return Checkpoint(name, position)


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
