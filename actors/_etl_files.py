"""Where an ETL download is written, and who may write it: a lock per source, unique partials.

Two handlers of one command (a redelivery while the first handler still runs, or two
processes resuming one run) once shared one ``.part`` file: both GETs wrote into it, one
renamed it while the other still wrote, and good sources were quarantined. Now:

* every download, validation and publication of a source happens under an exclusive
  ``fcntl.flock`` on ``DIR/.etl/locks/SOURCE.lock``, so a second handler waits, then finds
  the file published (or quarantined) and answers from it;
* each attempt streams into its own partial file, ``DIR/.etl/partial/SOURCE/RUN.PID.RANDOM.part``,
  created exclusively (``'xb'``), and is published by one atomic rename;
* partial files left by a killed handler are removed by the next holder of the lock
  (only the holder writes partials of its source, so any other one is a leftover).

The bookkeeping (locks, partials, where each file came from) lives under ``DIR/.etl/``,
so the download directory itself holds only published files. Lock files are never
deleted: removing a lock file another process has open would let two handlers hold
"the" lock at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from loguru import logger

from sagalog.actors._waiting_lock import waiting_lock

__all__ = ["discard_leftovers", "new_partial", "publish", "read_origin", "source_lock",
           "write_origin"]


def _bookkeeping(final: Path) -> Path:
    """``DIR/.etl`` for a final path ``DIR/SOURCE/RUN.EXT``."""
    return final.parent.parent / ".etl"


@contextlib.contextmanager
def source_lock(final: Path) -> Iterator[None]:
    """Hold the exclusive lock of the source whose final path is ``final`` (waiting for it).

    The lock is released when the block ends or the process dies (the kernel drops it).
    """
    source = final.parent.name
    locks = _bookkeeping(final) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    def waiting(_holder: str) -> None:
        logger.bind(actor="etl-download").info(
            "{}: another handler holds the source's lock; waiting for it", source)

    with waiting_lock(locks / f"{source}.lock", f"downloading {source}", waiting):
        yield


def _partials(final: Path) -> Path:
    """The source's own folder of partial files (a folder, so no source id prefixes another)."""
    return _bookkeeping(final) / "partial" / final.parent.name


def new_partial(final: Path) -> tuple[Path, BinaryIO]:
    """A new partial file for ``final``, created exclusively, open for writing."""
    folder = _partials(final)
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        path = folder / f"{final.stem}.{os.getpid()}.{secrets.token_hex(4)}.part"
        try:
            return path, path.open("xb")
        except FileExistsError:  # pragma: no cover - 32 random bits and our own pid collide
            continue


def discard_leftovers(final: Path) -> list[Path]:
    """Remove partial files of ``final``'s source left by killed handlers (lock held)."""
    folder = _partials(final)
    if not folder.is_dir():
        return []
    leftovers = sorted(folder.glob("*.part"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def publish(partial: Path, final: Path) -> None:
    """Rename the complete partial file to ``final`` atomically, and make the rename durable."""
    final.parent.mkdir(parents=True, exist_ok=True)
    partial.replace(final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _origin_file(final: Path) -> Path:
    return _bookkeeping(final) / "origin" / final.parent.name / f"{final.name}.json"


def write_origin(final: Path, url: str, etag: str | None) -> None:
    """Keep where ``final``'s body came from (after redirects) and its ETag, beside it.

    Written before the rename that publishes ``final``, so a handler that later finds the
    file published (a redelivery, a second process) answers with the same URL and ETag.
    """
    path = _origin_file(final)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"final_url": url, "etag": etag}), encoding="utf-8")


def read_origin(final: Path) -> tuple[str | None, str | None] | None:
    """The (final URL, ETag) kept for ``final``, or None (none kept, or unreadable)."""
    try:
        kept = json.loads(_origin_file(final).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict):
        return None
    url, etag = kept.get("final_url"), kept.get("etag")
    return (url if isinstance(url, str) else None, etag if isinstance(etag, str) else None)
