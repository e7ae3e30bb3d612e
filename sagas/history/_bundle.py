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
bundle by mistake finds nothing left to do. The bundle's metadata
(:meth:`~sagalog.store.LogReaderProtocol.metadata`) names the run and maps each
position to the record's position in the source log (:func:`source_positions`).

Not kept: stream versions of streams shared with other runs (a job queue) start at 1
again, and a record of an old message version is stored upcast, as the current
version. Causes outside the run are not copied (``show`` says the cause is not in
this log); the order, job, pipeline and ETL workflows have none.

The source is only read, through a read-only store. The bundle is written beside its
target as ``FILE.partial`` and renamed into place when complete, so an interrupted
bundle never leaves a half-written FILE.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sagalog.events import SagalogError
from sagalog.sagas.history._errors import BundleExistsError, UnknownRunError
from sagalog.sagas.history._opening import Log, reading
from sagalog.sagas.history._producers import producers
from sagalog.store import ANY, AppendRequest, open_store, parse_target

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sagalog.events import Envelope, Message, Registry
    from sagalog.store import LogReaderProtocol, RunStatusHook

__all__ = ["BUNDLE_RUN", "SOURCE_POSITIONS", "BundleResult", "SourcePositions", "bundle",
           "source_positions"]

BUNDLE_RUN = "bundle.run_id"
"""The metadata key of a bundle's run id."""
SOURCE_POSITIONS = "bundle.source_positions"
"""The metadata key of a bundle's source positions: ``12-15,20,31-40`` (in order, one
per record of the bundle; a run of consecutive positions is written as its ends)."""


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


@dataclass(frozen=True)
class SourcePositions:
    """Where each record of a bundle sat in the log it was cut from.

    A bundle renumbers its records from 1 but keeps their payloads, whose positions (a
    trigger's, a manifest's) are the source log's, and the recorded decisions' reasons
    name source positions too: replaying a bundle faithfully (``what-if``) feeds each
    record at the position the saga actor saw it.
    """

    positions: tuple[int, ...]
    """The source position of the bundle's position ``i + 1``, for each ``i``."""

    def source(self, position: int) -> int:
        """The source position of the bundle's ``position`` (0 stays 0: no record)."""
        return self.positions[position - 1] if 1 <= position <= len(self.positions) \
            else position

    @property
    def range(self) -> tuple[int, int]:
        """The first and last source positions the bundle holds."""
        return self.positions[0], self.positions[-1]

    def text(self) -> str:
        """The metadata value (see :data:`SOURCE_POSITIONS`)."""
        spans = []
        for _, group in itertools.groupby(enumerate(self.positions),
                                          lambda item: item[1] - item[0]):
            run = [position for _, position in group]
            spans.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        return ",".join(spans)

    @classmethod
    def parse(cls, text: str) -> SourcePositions:
        """The positions a :meth:`text` value holds.

        Raises:
            SagalogError: the value is not increasing positions in that form.

        """
        positions: list[int] = []
        try:
            for span in text.split(","):
                first, dash, last = span.partition("-")
                start = int(first)
                end = int(last) if dash else start
                if end < start:
                    raise ValueError(span)  # noqa: TRY301 - one way out for every flaw
                positions += range(start, end + 1)
        except ValueError:
            positions = []
        if not positions or positions[0] < 1 or any(
                later <= earlier for earlier, later in itertools.pairwise(positions)):
            msg = f"the bundle's {SOURCE_POSITIONS} is not increasing positions: {text[:80]!r}"
            raise SagalogError(msg)
        return cls(tuple(positions))


def source_positions(log: LogReaderProtocol) -> SourcePositions | None:
    """The source positions of a bundle's records (its metadata); None for any other log.

    Raises:
        SagalogError: the metadata holds a damaged mapping.

    """
    text = log.metadata().get(SOURCE_POSITIONS)
    return None if text is None else SourcePositions.parse(text)


class _ReplayClock:
    """The clock the bundle's store stamps commits with: set before each commit."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def bundle(
    source: Log,
    run_id: str,
    target: str | os.PathLike[str],
    *,
    force: bool = False,
    registry: Registry | None = None,
    run_status: Iterable[RunStatusHook] = (),
) -> BundleResult:
    """Copy the records of ``run_id`` in the log ``source`` into a new log file ``target``.

    Args:
        source: an opened store, or a target opened read-only for the call.
        run_id: the run's correlation id.
        target: the bundle's file.
        force: replace ``target`` if it exists.
        registry: to decode the source's records with (a target's; a store has its own).
        run_status: the hooks the bundle's run gets its status from (and a source
            target an older sagalog wrote): the command line passes the catalog's.

    Raises:
        UnknownRunError: no record of ``source`` has that correlation id.
        BundleExistsError: ``target`` exists and ``force`` is false.
        SagalogError: ``target`` is the source log itself, or cannot be written.

    """
    hooks = tuple(run_status)
    with reading(source, run_status=hooks, registry=registry) as log:  # refuses a bad source first
        target = Path(target)
        _check_target(_file_of(log.target), target, force=force)
        records = list(log.read_correlation(run_id))
        names = list(log.checkpoints())
    if not records:
        raise UnknownRunError(run_id)
    wrote = set(producers(records, names))
    partial = target.with_name(f"{target.name}.partial")
    try:
        _remove_with_sidecars(partial)
        _write(partial, run_id, records, [name for name in names if name in wrote], hooks)
        _remove_with_sidecars(target, keep_main=True)  # a stale WAL would be replayed
        partial.replace(target)
    except OSError as error:
        msg = f"{target}: cannot write the bundle ({error.strerror or error})"
        raise SagalogError(msg) from None
    finally:
        _remove_with_sidecars(partial)
    return BundleResult(run_id, target, len(records), records[0].position,
                        records[-1].position)


def _file_of(target: str) -> Path | None:
    """The file a store's target names, if it is a SQLite file."""
    scheme, location = parse_target(target)
    return Path(location) if scheme == "sqlite" and location != ":memory:" else None


def _check_target(source: Path | None, target: Path, *, force: bool) -> None:
    if not target.exists():
        return
    if target.is_dir():
        msg = f"{target} is a directory; name the bundle's file"
        raise SagalogError(msg)
    if source is not None and source.exists() and target.samefile(source):
        msg = f"{target} is the log being bundled; name another file"
        raise SagalogError(msg)
    if not force:
        raise BundleExistsError(str(target))


def _write(path: Path, run_id: str, records: list[Envelope[Message]], actors: list[str],
           run_status: tuple[RunStatusHook, ...]) -> None:
    """Write the bundle: ``records`` at their original times, checkpoints, metadata; fsync."""
    clock = _ReplayClock()
    # Durability "off": nothing here must survive a crash (the file is renamed into
    # place only when whole, after the fsync below), and fsyncing each of thousands of
    # commits costs seconds. The URL form, so that no file name is read as a scheme.
    with open_store(f"sqlite://{path.absolute()}", durability="off", clock=clock,
                    run_status=run_status) as store:
        for recorded_at, same_time in itertools.groupby(records, lambda r: r.recorded_at):
            clock.now = recorded_at
            store.append_all([
                AppendRequest(record.stream_id, [record.data], ANY, record.correlation_id,
                              record.causation_id, [record.event_id])
                for record in same_time
            ], want_records=False)
        for name in actors:
            store.set_checkpoint(name, len(records))
        store.set_metadata(BUNDLE_RUN, run_id)
        store.set_metadata(SOURCE_POSITIONS, SourcePositions(
            tuple(record.position for record in records)).text())
    # The store is closed, so SQLite has moved the WAL into the file: one file.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_with_sidecars(path: Path, *, keep_main: bool = False) -> None:
    for file in ((path,) if not keep_main else ()) + (Path(f"{path}-wal"), Path(f"{path}-shm")):
        file.unlink(missing_ok=True)
