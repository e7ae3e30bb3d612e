"""The ETL workflow's validation gate: magic bytes for the expected format, and checksums.

This is the gate that keeps an HTML error page served as ``data.csv`` (or a truncated
archive) out of the manifest. A failing file is moved to the quarantine directory. The
move is the last thing done, and its target is fixed by the file's name, so a command
delivered again after a crash finds the file already in quarantine and answers the same.
"""

from __future__ import annotations

import codecs
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from sagalog.actors._etl_http import sha256_of
from sagalog.events.etl import Quarantined, Validated, ValidateFile

__all__ = ["JSON_PARSE_LIMIT", "format_problem", "quarantine_path", "validate"]

HEAD_BYTES = 64 * 1024
"""How much of a text file's start the CSV and JSON checks read."""
JSON_PARSE_LIMIT = 16 * 1024 * 1024
"""JSON files up to this size are parsed whole; larger ones get the first-byte check only."""
_DELIMITERS = (",", ";", "\t", "|")


def validate(command: ValidateFile) -> Validated | Quarantined:
    """Validated, or Quarantined after moving the file to the quarantine directory.

    Raises:
        FileNotFoundError: the file is neither where it was downloaded nor in quarantine.

    """
    path = Path(command.path)
    target = quarantine_path(command)
    if not path.exists() and target.exists():  # moved before a crash: answer the same
        return _quarantined(command, target, _problem(command, target))
    problem = _problem(command, path)
    if problem is None:
        return Validated(source_id=command.source_id, path=command.path,
                         format=command.expected_format, sha256=command.sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    return _quarantined(command, target, problem)


def quarantine_path(command: ValidateFile) -> Path:
    """Where a failing file goes: ``QUARANTINE/SOURCE/NAME``."""
    return Path(command.quarantine_dir) / command.source_id / Path(command.path).name


def _quarantined(command: ValidateFile, target: Path, problem: str | None) -> Quarantined:
    return Quarantined(source_id=command.source_id, path=command.path,
                       reason=problem or "failed validation", quarantine_path=str(target))


def _problem(command: ValidateFile, path: Path) -> str | None:
    """Why the file fails, or None when it passes (format first, then the checksums)."""
    problem = format_problem(path, command.expected_format)
    if problem is not None:
        return problem
    digest, _ = sha256_of(path)
    if digest != command.sha256:
        return (f"checksum mismatch: the file on disk has sha256 {digest}, the download "
                f"streamed {command.sha256}")
    if command.expected_sha256 is not None and digest != command.expected_sha256:
        return (f"checksum mismatch: the source declares sha256 {command.expected_sha256}, "
                f"the file has {digest}")
    return None


def format_problem(path: Path, expected_format: str) -> str | None:
    """Why the file's first bytes are not ``expected_format``, or None if they are."""
    size = path.stat().st_size
    if size == 0:
        return f"empty file: not {expected_format}"
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        tail = b""
        if expected_format == "parquet" and size >= 8:
            handle.seek(size - 4)
            tail = handle.read(4)
    return _CHECKS[expected_format](path, head, size, tail)


def _csv(_path: Path, head: bytes, _size: int, _tail: bytes) -> str | None:
    if b"\x00" in head:
        return "not csv: binary content (NUL bytes)"
    text = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        start = text.decode(head, final=False)
    except UnicodeDecodeError:
        return "not csv: not UTF-8 text"
    first = start.lstrip("\ufeff").split("\n", 1)[0]
    if first.lstrip().startswith("<"):
        return f"not csv: starts like HTML or XML ({_show(first)})"
    if not any(delimiter in first for delimiter in _DELIMITERS):
        return f"not csv: no delimiter in the first line ({_show(first)})"
    return None


def _json(path: Path, head: bytes, size: int, _tail: bytes) -> str | None:
    first = head.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if first not in (b"{", b"["):
        return f"not json: starts with {_show_bytes(head)}"
    if size <= JSON_PARSE_LIMIT:
        try:
            json.loads(path.read_bytes())
        except ValueError as error:
            return f"not json: does not parse ({error})"
    return None


def _gzip(_path: Path, head: bytes, _size: int, _tail: bytes) -> str | None:
    if head[:2] != b"\x1f\x8b":
        return f"not gzip: magic bytes {_show_bytes(head)}, expected 1f 8b"
    return None


def _zip(_path: Path, head: bytes, _size: int, _tail: bytes) -> str | None:
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        return f"not zip: magic bytes {_show_bytes(head)}, expected 50 4b 03 04"
    return None


def _parquet(_path: Path, head: bytes, size: int, tail: bytes) -> str | None:
    if head[:4] != b"PAR1":
        return f"not parquet: magic bytes {_show_bytes(head)}, expected PAR1"
    if size < 12 or tail != b"PAR1":
        return "not parquet: no PAR1 footer (truncated?)"
    return None


_CHECKS: dict[str, Callable[[Path, bytes, int, bytes], str | None]] = {
    "csv": _csv, "json": _json, "gzip": _gzip, "zip": _zip, "parquet": _parquet,
}


def _show(text: str) -> str:
    return repr(text[:40])


def _show_bytes(head: bytes) -> str:
    return head[:4].hex(" ") or "(none)"
