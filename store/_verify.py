"""Checking a log end to end: the hash chain, gapless positions, and the backend's own check."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sagalog.events import printable
from sagalog.store._chain import GENESIS, record_hash

__all__ = ["VerifyReport", "verify_rows"]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of a store's ``verify``."""

    ok: bool
    """True when the chain, the positions and SQLite's own check all pass."""
    records: int
    """How many records were checked."""
    first_bad_position: int | None
    """The first position where the chain or the positions break, if any."""
    problem: str | None
    """What is wrong there, in words."""
    quick_check: str
    """What the backend's own integrity check said (``ok`` when sound): for SQLite, its
    ``PRAGMA quick_check``."""

    def json(self) -> str:
        """The report as one JSON document (``verify --format json``), its fields as keys."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    def __str__(self) -> str:
        if self.ok:
            return f"ok: {self.records} records, hash chain intact, quick_check ok"
        if self.first_bad_position is not None:
            return f"FAILED at position {self.first_bad_position}: {self.problem}"
        return f"FAILED: {self.problem}"


def verify_rows(
    batches: Iterable[Sequence[Any]],
    quick_check: str,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Walk ``batches`` of raw records (the envelope columns, then ``hash``) in order.

    ``quick_check`` is what the backend's own integrity check said (``ok`` when sound).
    """
    previous = GENESIS
    expected_position = 1
    count = 0
    for rows in batches:
        for row in rows:
            position = row[0]
            if position != expected_position:
                return _broken(
                    count, expected_position,
                    f"positions jump from {expected_position - 1} to {position}: "
                    "records are missing", quick_check,
                )
            columns = _text(row)
            if isinstance(columns, str):
                return _broken(count, position, columns, quick_check)
            computed = record_hash(previous, *columns)
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
            problem=f"integrity check: {quick_check}", quick_check=quick_check,
        )
    return VerifyReport(
        ok=True, records=count, first_bad_position=None, problem=None, quick_check=quick_check
    )


_TEXT = {1: "stream_id", 4: "type", 6: "recorded_at", 7: "correlation_id", 9: "data"}
"""The text columns of a stored row, by index (a backend may hand them over as bytes)."""


def _text(row: Sequence[Any]) -> list[Any] | str:
    """The row's ten envelope columns, its text decoded; or what is wrong with them."""
    columns = list(row[:10])
    for index, name in _TEXT.items():
        value = columns[index]
        if not isinstance(value, bytes):
            continue
        try:
            columns[index] = value.decode("utf-8")
        except UnicodeDecodeError as error:
            near = value[max(error.start - 20, 0) : error.start + 20]
            return (f"its {name} is not UTF-8 text (byte {error.start} of {len(value)}: the "
                    "file was damaged or edited outside sagalog), near "
                    f"'{printable(near.decode('utf-8', 'backslashreplace'))}'")
    return columns


def _broken(count: int, position: int, problem: str, quick_check: str) -> VerifyReport:
    return VerifyReport(
        ok=False, records=count, first_bad_position=position, problem=problem,
        quick_check=quick_check,
    )
