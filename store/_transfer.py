r"""Exporting the log as JSON Lines, and importing such a file back, all or nothing.

One record a line, with the envelope's keys in order: ``position, stream_id,
stream_version, event_id, type, version, recorded_at, correlation_id, causation_id,
data``. Export writes what is stored (the data as recorded, before any upcasting), so a
record this code cannot decode still exports. Its text is UTF-8, not escaped, so a line
may hold U+2028, U+2029 or U+0085, which ``str.splitlines`` takes for line breaks: a
JSON Lines file is split on "\n" only (:func:`json_lines`).

A whole export (no filter, from position 1) ends with one line per subscriber's
checkpoint (export format 2, see :mod:`._carry`); an import into an empty log moves
those checkpoints in its own transaction, so a worker on the restored log does not
handle its commands again. A file without them (format 1) imports as it always did.

Import keeps stream ids, versions, event ids, correlation and causation; positions and
times are the target log's. It is all or nothing, and streams: a first pass checks every
line and keeps none (before the log is opened, so a refused file creates no log), then a
second reads the file again and appends it a batch at a time inside ONE transaction (see
:meth:`SqliteEventStore.submit_stream`). A bad line, an unknown type or a conflict with
the log aborts with an error naming the line, and nothing is imported; memory holds one
batch, however long the file. Importing the same file again appends nothing (identical
records under known ids).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from sagalog.events import ENVELOPE_FIELDS, MessageError, Registry, encode
from sagalog.store._append import AppendRequest
from sagalog.store._carry import (
    CarriedCheckpoint,
    ExportedCheckpoints,
    carry_refusal,
    parse_checkpoint,
)
from sagalog.store._errors import (
    EventIdConflictError,
    InvalidStreamIdError,
    StoreError,
    WrongExpectedVersionError,
)
from sagalog.store._ids import check_id

if TYPE_CHECKING:
    from sagalog.events import Message
    from sagalog.store._contract import EventStoreProtocol, LogReaderProtocol, RunStatusHook

__all__ = ["ImportFileError", "ImportLine", "ImportResult", "export_lines", "import_file",
           "import_lines", "json_lines", "parse_lines"]

_PAGE = 5000
_BATCH = 1000
"""Lines appended per batch of a streamed import (a batch is what memory holds)."""


class ImportFileError(StoreError):
    """A line of an import file is wrong, or conflicts with the log; nothing was imported."""

    def __init__(self, line: int, reason: str, path: str | Path | None = None) -> None:
        self.line = line
        self.path = path
        where = f"{path}: line {line}" if path is not None else f"line {line}"
        super().__init__(f"{where}: {reason}; nothing was imported")


@dataclass(frozen=True, slots=True)
class ImportLine:
    """One checked line of an import file."""

    line: int
    stream_id: str
    stream_version: int
    event_id: UUID
    correlation_id: str | None
    causation_id: UUID | None
    message: Message
    position: int | None = None
    """The record's position in the log it was exported from, if the line gives one."""


def export_lines(
    store: LogReaderProtocol,
    *,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    from_position: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Iterator[str]:
    """The log as JSON lines (no newline), streamed a page of raw records at a time.

    Pages are read on the calling thread (``read_raw``), undecoded, so a record of a type
    this code does not know still exports. Without ``keep``, a record whose stored
    data is already in the form the line would hold (see :func:`_canonical`) is copied
    without parsing it: that round trip was two thirds of the cost of a line.
    ``bench/history_bench.py`` (1,000,000 records): 42,000 lines/s before, 110,000-118,000 after.
    (Building the lines in SQL with ``json_quote`` and ``||`` measured 1.7x slower.)

    A whole export (no ``keep``, from position 1) ends with the log's checkpoints, one
    line each (export format 2, see :mod:`._carry`); a partial one holds records only.
    """
    position = max(from_position, 1)
    marks = ExportedCheckpoints(store.checkpoints()) if keep is None and position == 1 else None
    count = 0
    while True:
        rows = store.read_raw(position, _PAGE)
        if marks is not None:
            marks.see(rows)
        if keep is None:
            yield from map(_line, rows)
        else:
            for row in rows:
                record = _record(row)
                if keep(record):
                    yield _ENCODER.encode(record)
        count += len(rows)
        if progress is not None:
            progress(count)
        if len(rows) < _PAGE:
            break
        position = rows[-1][0] + 1
    if marks is not None:
        yield from marks.lines()


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""What ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` uses, built once."""
_string = encode_basestring
_ODD_ESCAPE = re.compile(r'\\(?!["\\bfnrt]|u00(?:0[0-7bef]|1[0-9a-f]))')
"""An escape ``_ENCODER`` spells otherwise: a slash, a letter or a newline as ``\\u...``."""
_NOT_CANONICAL = re.compile(r"[^{}\[\]:,0-9.-]|-0(?!\.)")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "position": row[0], "stream_id": row[1], "stream_version": row[2],
        "event_id": _uuid(row[3]), "type": row[4], "version": row[5],
        "recorded_at": row[6], "correlation_id": row[7],
        "causation_id": None if row[8] is None else _uuid(row[8]),
        "data": json.loads(row[9]),
    }


def _line(row: tuple[Any, ...]) -> str:
    """``_ENCODER.encode(_record(row))``, the same text, without parsing canonical data."""
    position, stream_id, version_in_stream, event_id, type_name, version, recorded_at, \
        correlation_id, causation_id, data = row[:10]
    if not _canonical(data):
        data = _ENCODER.encode(json.loads(data))
    correlation = "null" if correlation_id is None else _string(correlation_id)
    cause = "null" if causation_id is None else f'"{_uuid(causation_id)}"'
    return (f'{{"position":{position},"stream_id":{_string(stream_id)},'
            f'"stream_version":{version_in_stream},"event_id":"{_uuid(event_id)}",'
            f'"type":{_string(type_name)},"version":{version},'
            f'"recorded_at":{_string(recorded_at)},"correlation_id":{correlation},'
            f'"causation_id":{cause},"data":{data}}}')


def _canonical(data: str) -> bool:
    """Whether ``json.loads`` then ``_ENCODER`` would give ``data`` back unchanged.

    True only when, with the strings taken out, what is left holds nothing but
    brackets, separators, the three literals, integers (no negative zero) and floats
    spelled as ``repr`` spells them: no whitespace, no exponents (encoders spell those
    differently), and every escape in the strings spelled as ``_ENCODER`` spells it.
    Texts written by :func:`events.encode` never repeat a key; one repeated behind the
    store's back is exported as stored.
    """
    if "\\" in data:
        if _ODD_ESCAPE.search(data) is not None:
            return False
        # Escapes are read in pairs from the left: with them gone, quotes delimit strings.
        data = data.replace("\\\\", "").replace('\\"', "")
    outside = "".join(data.split('"')[::2])
    outside = outside.replace("true", "").replace("false", "").replace("null", "")
    if _NOT_CANONICAL.search(outside) is not None:
        return False
    return "." not in outside or all(
        repr(float(number)) == number for number in _FLOAT.findall(outside)
    )


def _uuid(raw: bytes) -> str:
    """``str(UUID(bytes=raw))`` at a fifth of the cost."""
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def json_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    r"""Each line of a JSON Lines file and its number (from 1), read as it goes.

    Lines end at "\n" only: U+2028, U+2029, U+0085 and \x1c-\x1e are text (an export
    writes the first three unescaped), though ``str.splitlines`` would break lines there.

    Raises:
        StoreError: the file cannot be opened.
        ImportFileError: a line is not UTF-8 (naming it).

    """
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - closed below, also when a line is bad
    except OSError as error:
        msg = f"{path}: cannot read ({error.strerror or error})"
        raise StoreError(msg) from None
    with handle:
        for number, raw in enumerate(handle, start=1):  # a binary file splits at b"\n" only
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ImportFileError(number, f"not UTF-8 ({error.reason} at byte "
                                              f"{error.start})", path) from None


def parse_lines(lines: Iterable[str], registry: Registry) -> list[ImportLine]:
    """Check every line; raise :class:`ImportFileError` naming the first bad one.

    Returns the records; checkpoint lines are checked, then left out (see :func:`import_file`).
    """
    return list(_parsed(enumerate(lines, start=1), registry))


def _parsed(numbered: Iterable[tuple[int, str]], registry: Registry,
            path: str | Path | None = None,
            checkpoints: list[CarriedCheckpoint] | None = None,
            ) -> Generator[ImportLine, None, None]:
    """Each non-blank record line checked, as it is read; the first bad line raises.

    Checkpoint lines are checked too, and added to ``checkpoints`` if it is given.
    """
    for number, text in numbered:
        if text.strip():
            parsed = _parse(number, text, registry, path)
            if isinstance(parsed, ImportLine):
                yield parsed
            elif checkpoints is not None:
                checkpoints.append(parsed)


def _parse(number: int, text: str, registry: Registry,
           path: str | Path | None) -> ImportLine | CarriedCheckpoint:
    try:
        return _checked(number, text, registry, path)
    except RecursionError:  # json.loads of [[[[...: a traceback rather than an error
        raise ImportFileError(number, "nested too deeply to read", path) from None


def _checked(number: int, text: str, registry: Registry,
             path: str | Path | None) -> ImportLine | CarriedCheckpoint:
    try:
        record = json.loads(text)
    except ValueError as error:
        raise ImportFileError(number, f"not JSON ({error})", path) from None
    if not isinstance(record, dict):
        raise ImportFileError(number, "not a JSON object", path)
    if "kind" in record:  # not a record: a checkpoint line of a whole export
        try:
            return parse_checkpoint(number, record)
        except ValueError as error:
            raise ImportFileError(number, str(error), path) from None
    missing = [key for key in ENVELOPE_FIELDS if key not in record and key != "position"]
    if missing:
        raise ImportFileError(number, f"missing {', '.join(missing)}", path)
    try:
        stream_id = check_id(record["stream_id"])
        correlation = record["correlation_id"]
        if correlation is not None:
            check_id(correlation, "correlation id")
        version = record["stream_version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ImportFileError(number, f"stream_version must be an integer >= 1: "
                                          f"{version!r}", path)
        event_id = UUID(str(record["event_id"]))
        causation = None if record["causation_id"] is None else UUID(str(record["causation_id"]))
        message = registry.decode(
            str(record["type"]), int(record["version"]), _ENCODER.encode(record["data"]),
            stream_id=stream_id,
        )
        encode(message)  # refused here, with the line's number, rather than when appended
    except (InvalidStreamIdError, MessageError) as error:
        raise ImportFileError(number, str(error), path) from None
    except (ValueError, TypeError) as error:
        raise ImportFileError(number, f"bad field ({error})", path) from None
    position = record.get("position")
    return ImportLine(number, stream_id, version, event_id, correlation, causation, message,
                      position if isinstance(position, int) else None)


def import_lines(
    store: EventStoreProtocol,
    lines: Iterable[ImportLine],
    progress: Callable[[int], None] | None = None,
    *,
    path: str | Path | None = None,
    checkpoints: dict[str, int] | None = None,
    expected_position: int | None = None,
) -> int:
    """Append the checked lines in one transaction, a batch at a time; return how many are new.

    ``lines`` may be a generator: it is read on the caller's thread as the batches are
    written, and anything it raises (Ctrl-C included) rolls the whole import back.
    ``progress`` is called with the number of lines handed to the store so far, after
    each batch; ``path`` is the file the lines come from, named by an error.
    ``checkpoints`` and ``expected_position`` go to :meth:`append_stream`: the
    checkpoints move in the import's transaction, if the log ends at
    ``expected_position`` when it begins.
    """
    current: list[ImportLine] = []  # the batch being written, to name the line that fails
    done = 0

    def batches() -> Iterator[list[AppendRequest]]:
        nonlocal done
        read = iter(lines)
        while batch := list(itertools.islice(read, _BATCH)):
            current[:] = batch
            yield [AppendRequest(line.stream_id, [line.message], line.stream_version - 1,
                                 line.correlation_id, line.causation_id, [line.event_id])
                   for line in batch]
            done += len(batch)
            if progress is not None:
                progress(done)

    try:
        return store.append_stream(batches(), checkpoints=checkpoints,
                                   expected_position=expected_position)
    except (WrongExpectedVersionError, EventIdConflictError) as error:
        index = error.write_index
        line = current[index].line if index is not None and index < len(current) else 0
        raise ImportFileError(line, str(error), path) from None


class ImportResult(NamedTuple):
    """What :func:`import_file` did."""

    added: int
    """Records appended (lines already in the log, identically, are not appended twice)."""
    lines: int
    """Records the file holds (its non-blank record lines)."""
    checkpoints: int = 0
    """Checkpoints of the file moved in the log (see :mod:`._carry`)."""
    checkpoints_left: str | None = None
    """Why the file's checkpoints were not carried, if it has some and they were not."""


def import_file(
    target: str | Path,
    path: str | Path,
    registry: Registry,
    *,
    progress: Callable[[str, int, int | None], None] | None = None,
    run_status: Iterable[RunStatusHook] = (),
) -> ImportResult:
    """Append the JSON Lines file ``path`` to the log at ``target``, all or nothing, streaming.

    Two passes over the file: the first checks every line and keeps none, before the
    log is opened (a refused file creates no log); the second appends it in one
    transaction (see :func:`import_lines`). Memory holds a batch of lines, however long
    the file; if the file changes between the passes, the second pass checks it again.
    ``progress`` is called with ``("checking", lines, None)`` during the first pass and
    ``("importing", lines, total)`` during the second.

    The file's checkpoint lines (a whole export's) move the log's checkpoints in the same
    transaction when the log is empty (a restore); otherwise the records are imported
    without them, and the result says why (see :mod:`._carry`).

    Raises:
        ImportFileError: a line is wrong or conflicts with the log (naming it and the
            file); nothing was imported.
        WrongExpectedPositionError: checkpoints were to be carried into an empty log, and
            another process appended to it meanwhile; nothing was imported.
        StoreError: the file cannot be read, or the log cannot be opened or written.

    """
    from sagalog.store._factory import open_store  # noqa: PLC0415 - it imports the backends

    total, whole, checkpoints = _check_file(path, registry, progress)
    with contextlib.closing(_parsed(json_lines(path), registry, path)) as lines, \
            open_store(target, registry=registry, run_status=run_status) as store:
        refusal = carry_refusal(checkpoints, whole=whole, last_position=store.last_position())
        carried = [] if refusal is not None else checkpoints
        added = import_lines(
            store, _matching(lines, carried, path) if carried else lines,
            None if progress is None else lambda n: progress("importing", n, total),
            path=path, checkpoints={mark.name: mark.position for mark in carried},
            expected_position=0 if carried else None)
    if added == 0:  # nothing new: nothing will be handled again, whatever the checkpoints
        refusal = None
    return ImportResult(added, total, len(carried), refusal)


def _check_file(
    path: str | Path, registry: Registry,
    progress: Callable[[str, int, int | None], None] | None,
) -> tuple[int, bool, list[CarriedCheckpoint]]:
    """The first pass: how many records, whether they are at positions 1..N, the checkpoints."""
    checkpoints: list[CarriedCheckpoint] = []
    total = 0
    whole = True
    for total, line in enumerate(_parsed(json_lines(path), registry, path, checkpoints),
                                 start=1):
        whole = whole and line.position == total
        if progress is not None and total % _BATCH == 0:
            progress("checking", total, None)
    if progress is not None:
        progress("checking", total, None)
    seen: dict[str, int] = {}
    for mark in checkpoints:
        if mark.name in seen:
            raise ImportFileError(mark.line, f"checkpoint {mark.name!r} is also on line "
                                             f"{seen[mark.name]}", path)
        seen[mark.name] = mark.line
        if whole and mark.position > total:
            raise ImportFileError(mark.line, f"checkpoint {mark.name!r} is at position "
                                             f"{mark.position}, past the file's last record "
                                             f"({total})", path)
    return total, whole, checkpoints


def _matching(lines: Iterable[ImportLine], checkpoints: list[CarriedCheckpoint],
              path: str | Path) -> Iterator[ImportLine]:
    """``lines``, checking that each checkpoint's position holds the record it names.

    Read inside the import's transaction: a mismatch raises, and nothing is imported.
    """
    at = {mark.position: mark for mark in checkpoints}
    for ordinal, line in enumerate(lines, start=1):
        mark = at.get(ordinal)
        if mark is not None and mark.event_id != line.event_id:
            raise ImportFileError(mark.line, f"checkpoint {mark.name!r} names event "
                                             f"{mark.event_id} at position {mark.position}, "
                                             f"but the record there (line {line.line}) is "
                                             f"{line.event_id}", path)
        yield line
