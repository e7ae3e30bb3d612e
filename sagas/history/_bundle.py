"""One saga or run copied into a log of its own: an incident to attach to a ticket.

The bundle is an ordinary sagalog database, so every history command opens it. It
holds the run's records (its correlation) with their event ids, types, streams,
correlation and causation ids, data and original ``recorded_at``, in log order;
positions are renumbered from 1 and its hash chain is its own, so ``verify`` checks
it. The store stamps each commit with its clock, so the bundle is written with a
clock that reads each record's original time: one commit per distinct time, the
grouping the original commits had. Actors are not stored in records (see
:mod:`._producers`); the bundle copies the checkpoint names of the actors that wrote
the run, at its last position, so ``timeline`` names them and a runtime opened on the
bundle by mistake finds nothing left to do. A ``bundle_positions`` table maps each
position to the record's position in the source log.

Not kept: stream versions of streams shared with other runs (a job queue) start at 1
again, and a record of an old message version is stored upcast, as the current
version. Causes outside the run are not copied (``show`` says the cause is not in
this log); the order, job, pipeline and ETL workflows have none.

The source is only read, on a read-only connection. The bundle is written beside its
target as ``FILE.partial`` and renamed into place when complete, so an interrupted
bundle never leaves a half-written FILE.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sagalog.events import SagalogError
from sagalog.events import registry as default_registry
from sagalog.sagas.history._errors import BundleExistsError, UnknownRunError
from sagalog.sagas.history._producers import producers
from sagalog.sagas.history._reading import SELECT_RECORDS, decode_row
from sagalog.sagas.history._runs import open_read_only
from sagalog.store import ANY, AppendRequest, open_store

if TYPE_CHECKING:
    from sagalog.events import Envelope, Message, Registry

__all__ = ["BundleResult", "bundle"]


@dataclass(frozen=True)
class BundleResult:
    """What :func:`bundle` wrote."""

    run_id: str
    path: Path
    records: int
    first_position: int
    """The run's first position in the source log (it is 1 in the bundle)."""
    last_position: int
    """The run's last position in the source log."""

    def line(self) -> str:
        """One line for the command's output."""
        return (f"bundled {self.records} records of run {self.run_id} (positions "
                f"{self.first_position}-{self.last_position} of the log, 1-{self.records} "
                f"in the bundle) into {self.path}")


class _ReplayClock:
    """The clock the bundle's store stamps commits with: set before each commit."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def bundle(
    source: str | Path,
    run_id: str,
    target: str | Path,
    *,
    force: bool = False,
    registry: Registry = default_registry,
) -> BundleResult:
    """Copy the records of ``run_id`` in the log ``source`` into a new log ``target``.

    Raises:
        UnknownRunError: no record of ``source`` has that correlation id.
        BundleExistsError: ``target`` exists and ``force`` is false.
        SagalogError: ``target`` is the source log itself, or cannot be written.

    """
    connection = open_read_only(source)  # refuses a missing or foreign file (or '') first
    source, target = Path(source), Path(target)
    try:
        _check_target(source, target, force=force)
        rows = connection.execute(f"{SELECT_RECORDS} WHERE correlation_id = ? "
                                  "ORDER BY position", (run_id,)).fetchall()
        names = [name for (name,) in connection.execute("SELECT name FROM checkpoints")]
    finally:
        connection.close()
    if not rows:
        raise UnknownRunError(run_id)
    records = [decode_row(row, registry) for row in rows]
    wrote = set(producers(records, names))
    partial = target.with_name(f"{target.name}.partial")
    try:
        _remove_with_sidecars(partial)
        _write(partial, records, [name for name in names if name in wrote])
        _write_positions(partial, records)
        _remove_with_sidecars(target, keep_main=True)  # a stale WAL would be replayed
        partial.replace(target)
    except OSError as error:
        msg = f"{target}: cannot write the bundle ({error.strerror or error})"
        raise SagalogError(msg) from None
    finally:
        _remove_with_sidecars(partial)
    return BundleResult(run_id, target, len(records), records[0].position,
                        records[-1].position)


def _check_target(source: Path, target: Path, *, force: bool) -> None:
    if not target.exists():
        return
    if target.is_dir():
        msg = f"{target} is a directory; name the bundle's file"
        raise SagalogError(msg)
    if target.samefile(source):
        msg = f"{target} is the log being bundled; name another file"
        raise SagalogError(msg)
    if not force:
        raise BundleExistsError(str(target))


def _write(path: Path, records: list[Envelope[Message]], actors: list[str]) -> None:
    """Append ``records`` with their original times; set each actor's checkpoint."""
    clock = _ReplayClock()
    # Durability "off": nothing here must survive a crash (the file is renamed into
    # place only when whole), and fsyncing each of thousands of commits costs seconds.
    with open_store(path, durability="off", clock=clock) as store:
        for recorded_at, same_time in itertools.groupby(records, lambda r: r.recorded_at):
            clock.now = recorded_at
            store.append_all([
                AppendRequest(record.stream_id, [record.data], ANY, record.correlation_id,
                              record.causation_id, [record.event_id])
                for record in same_time
            ], want_records=False)
        for name in actors:
            store.set_checkpoint(name, len(records))


def _write_positions(path: Path, records: list[Envelope[Message]]) -> None:
    """The table mapping each position of the bundle to the source's; then fsync."""
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE bundle_positions (position INTEGER PRIMARY KEY, "
                           "source_position INTEGER NOT NULL)")
        connection.executemany("INSERT INTO bundle_positions VALUES (?, ?)",
                               enumerate((record.position for record in records), start=1))
    # The last connection closed, so SQLite has moved the WAL into the file: one file.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_with_sidecars(path: Path, *, keep_main: bool = False) -> None:
    for file in ((path,) if not keep_main else ()) + (Path(f"{path}-wal"), Path(f"{path}-shm")):
        file.unlink(missing_ok=True)
