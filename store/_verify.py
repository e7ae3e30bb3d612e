"""Checking a log end to end: the hash chain, gapless positions, and SQLite's quick check."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sagalog.store._chain import GENESIS, record_hash

__all__ = ["VerifyReport", "verify_pages", "verify_rows"]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of :meth:`SqliteEventStore.verify`."""

    ok: bool
    """True when the chain, the positions and SQLite's own check all pass."""
    records: int
    """How many records were checked."""
    first_bad_position: int | None
    """The first position where the chain or the positions break, if any."""
    problem: str | None
    """What is wrong there, in words."""
    quick_check: str
    """What ``PRAGMA quick_check`` said (``ok`` when the file is sound)."""

    def json(self) -> str:
        """The report as one JSON document (``verify --format json``), its fields as keys."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    def __str__(self) -> str:
        if self.ok:
            return f"ok: {self.records} records, hash chain intact, quick_check ok"
        if self.first_bad_position is not None:
            return f"FAILED at position {self.first_bad_position}: {self.problem}"
        return f"FAILED: {self.problem}"


async def verify_rows(
    batches: AsyncIterator[list[Any]],
    quick_check: str,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Walk ``batches`` of (envelope columns..., hash) rows in position order."""
    previous = GENESIS
    expected_position = 1
    count = 0
    async for rows in batches:
        for row in rows:
            position = row[0]
            if position != expected_position:
                return _broken(
                    count, expected_position,
                    f"positions jump from {expected_position - 1} to {position}: "
                    "records are missing", quick_check,
                )
            computed = record_hash(previous, *row[:10])
            if computed != row[10]:
                return _broken(
                    count, position,
                    "the record's hash does not match its content and the chain before it "
                    "(the record, or one before it, was altered)", quick_check,
                )
            previous = computed
            expected_position += 1
            count += 1
        if progress is not None:
            progress(count)
    if quick_check != "ok":
        return VerifyReport(
            ok=False, records=count, first_bad_position=None,
            problem=f"SQLite quick_check: {quick_check}", quick_check=quick_check,
        )
    return VerifyReport(
        ok=True, records=count, first_bad_position=None, problem=None, quick_check=quick_check
    )


def verify_pages(
    pages: Iterable[list[Any]],
    quick_check: str,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """:func:`verify_rows` for a synchronous backend: ``pages`` of rows in position order.

    The same checks and the same report, so a log verifies alike on every backend.
    """
    previous = GENESIS
    expected_position = 1
    count = 0
    for rows in pages:
        for row in rows:
            position = row[0]
            if position != expected_position:
                return _broken(
                    count, expected_position,
                    f"positions jump from {expected_position - 1} to {position}: "
                    "records are missing", quick_check,
                )
            computed = record_hash(previous, *row[:10])
            if computed != row[10]:
                return _broken(
                    count, position,
                    "the record's hash does not match its content and the chain before it "
                    "(the record, or one before it, was altered)", quick_check,
                )
            previous = computed
            expected_position += 1
            count += 1
        if progress is not None:
            progress(count)
    if quick_check != "ok":
        return VerifyReport(
            ok=False, records=count, first_bad_position=None,
            problem=f"SQLite quick_check: {quick_check}", quick_check=quick_check,
        )
    return VerifyReport(
        ok=True, records=count, first_bad_position=None, problem=None, quick_check=quick_check
    )


def _broken(count: int, position: int, problem: str, quick_check: str) -> VerifyReport:
    return VerifyReport(
        ok=False, records=count, first_bad_position=position, problem=problem,
        quick_check=quick_check,
    )
