"""One step of a subscription: the next page of records from a position, and where to go on.

Shared by the async subscription and the thread-side one. With a type filter the page is
bounded by the log's head, read in the same statement (one snapshot, one GIL hand-off),
so an empty answer still moves the subscription past every record it looked at: a
subscriber to rare types must not walk the whole log again after every commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sagalog.store._decode import decode_rows
from sagalog.store.sqlite._schema import COLUMNS

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message, Registry

__all__ = ["scan_query", "scan_result"]

_NULLS = ", ".join(["NULL"] * 9)  # the envelope columns after position
_ALL = f"SELECT 1, {COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?"  # noqa: S608


def scan_query(position: int, limit: int, types: list[str] | None) -> tuple[str, tuple[Any, ...]]:
    """The statement that reads the next page from ``position``, and its parameters."""
    if types is None:
        return _ALL, (position, limit)
    marks = ",".join("?" * len(types))
    sql = (
        f"SELECT 1, * FROM (SELECT {COLUMNS} FROM events WHERE position >= ? "  # noqa: S608
        f"AND position <= (SELECT max(position) FROM events) AND type IN ({marks}) "
        f"ORDER BY position LIMIT ?) UNION ALL SELECT 0, max(position), {_NULLS} "
        "FROM events"
    )
    return sql, (position, *types, limit)


def scan_result(
    answer: list[Any], position: int, limit: int, registry: Registry
) -> tuple[list[Envelope[Message]], int]:
    """The decoded page of ``answer``, and the position to scan from next."""
    head = 0
    rows = []
    for row in answer:
        if row[0]:
            rows.append(row[1:])
        else:
            head = int(row[1] or 0)  # only a filtered scan carries the head row
    page = decode_rows(rows, registry)
    if page and (len(page) == limit or not head):
        return page, page[-1].position + 1
    return page, max(position, head + 1)
