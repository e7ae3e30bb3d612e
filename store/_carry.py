"""Checkpoints carried across an export and its import: the lines, and where they land.

Without them, a worker on a log rebuilt from an export handled every command again (its
subscribers started from position 0): every effect outside the log was requested again.

The export format, versioned: format 1 is records only, one a line. Format 2 (a whole
export: no filter, from position 1) adds, after the last record, one line per
subscriber's checkpoint::

    {"kind":"checkpoint","format":2,"name":"LoaderActor","position":812,"event_id":"..."}

``kind`` is a key no record line has; ``event_id`` is that of the record at
``position``, so the import can check that the file's records are the ones the
checkpoint was taken on. The checkpoints are read before the records: a worker that
goes on during the export leaves them behind, never ahead of, the exported records (at
worst a restored worker handles a few commands again; never one skipped).

Where they land: a record's position is the target log's, so a checkpoint is carried
only when its position is known in advance: the file is a whole export (its records
at positions 1..N, in order) and the target log is empty (a restore). The records then
take positions 1..N again, which the store enforces by appending with
``expected_position=0``. Into a log that holds records (a merge), checkpoints are not
carried: moving them would skip that log's own records not yet handled, a loss; the
import says so, and a worker there handles the imported commands again (effects at
least once, under the same idempotency keys). An export of format 1 imports as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from sagalog.store._contract import RawRecord

__all__ = ["CHECKPOINT_KIND", "EXPORT_FORMAT", "CarriedCheckpoint", "ExportedCheckpoints",
           "carry_refusal", "parse_checkpoint"]

EXPORT_FORMAT = 2
"""The newest export format this code writes and reads (1: records only)."""
CHECKPOINT_KIND = "checkpoint"
"""The ``kind`` of a checkpoint line; record lines have no ``kind``."""


@dataclass(frozen=True, slots=True)
class CarriedCheckpoint:
    """One checkpoint line of an export: subscriber ``name`` had handled up to ``position``."""

    line: int
    name: str
    position: int
    event_id: UUID


class ExportedCheckpoints:
    """The checkpoint lines of a whole export, built as its pages of records go by.

    ``checkpoints`` is the log's, read before its first record is: a page at a time,
    :meth:`see` notes the event id at each checkpoint's position (positions are
    gapless, so a page's position ``p`` is its row ``p - first``).
    """

    def __init__(self, checkpoints: dict[str, int]) -> None:
        self._positions = {name: position for name, position in checkpoints.items()
                           if position > 0}  # 0: nothing handled, nothing to carry
        self._event_ids: dict[int, str] = {}

    def see(self, page: Sequence[RawRecord]) -> None:
        """Note the event ids of the page's records at checkpoint positions."""
        if not page:
            return
        first = page[0].position
        for position in set(self._positions.values()):
            index = position - first
            if 0 <= index < len(page) and page[index].position == position:
                self._event_ids[position] = str(UUID(bytes=bytes(page[index].event_id)))

    def lines(self) -> Iterator[str]:
        """One JSON line per checkpoint whose record was exported, by name."""
        for name in sorted(self._positions):
            position = self._positions[name]
            event_id = self._event_ids.get(position)
            if event_id is not None:
                yield json.dumps({"kind": CHECKPOINT_KIND, "format": EXPORT_FORMAT,
                                  "name": name, "position": position, "event_id": event_id},
                                 ensure_ascii=False, separators=(",", ":"))


def parse_checkpoint(line: int, record: dict[str, Any]) -> CarriedCheckpoint:
    """The checkpoint of line ``line``; ValueError saying what is wrong with it."""
    kind, version = record.get("kind"), record.get("format")
    if kind != CHECKPOINT_KIND:
        msg = f"unknown line kind {kind!r} (this sagalog reads records and {CHECKPOINT_KIND!r})"
        raise ValueError(msg)
    if not isinstance(version, int) or isinstance(version, bool) or version < 2:
        msg = f"a checkpoint line needs an integer 'format' >= 2, not {version!r}"
        raise ValueError(msg)
    if version > EXPORT_FORMAT:
        msg = (f"written in export format {version}, by a newer sagalog (this one reads "
               f"formats 1 to {EXPORT_FORMAT})")
        raise ValueError(msg)
    name, position = record.get("name"), record.get("position")
    if not isinstance(name, str) or not name:
        msg = f"checkpoint 'name' must be a non-empty string, not {name!r}"
        raise ValueError(msg)
    if not isinstance(position, int) or isinstance(position, bool) or position < 1:
        msg = f"checkpoint 'position' must be an integer >= 1, not {position!r}"
        raise ValueError(msg)
    try:
        event_id = UUID(str(record.get("event_id")))
    except ValueError:
        msg = f"checkpoint 'event_id' must be a UUID, not {record.get('event_id')!r}"
        raise ValueError(msg) from None
    return CarriedCheckpoint(line, name, position, event_id)


def carry_refusal(checkpoints: list[CarriedCheckpoint], *, whole: bool,
                  last_position: int) -> str | None:
    """Why the file's ``checkpoints`` cannot be carried into the log; None if they can.

    ``whole``: the file's records are at positions 1..N, in order; ``last_position``:
    where the target log ends before the import.
    """
    if not checkpoints:
        return None
    if not whole:
        return "the file is not a whole export (its records are not at positions 1..N)"
    if last_position != 0:
        return (f"the log already holds {last_position} records: checkpoints are carried "
                "only into an empty log")
    return None
