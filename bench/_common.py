"""Helpers shared by the benchmarks (not a benchmark itself)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from sagalog.store import WriterStats

__all__ = ["check_appends", "delta", "filesystem", "print_machine", "scratch", "snapshot"]


def check_appends(appends: list[Future[Any]], *, wait: bool = False) -> None:
    """Raise the first failed append; forget the finished ones."""
    still: list[Future[Any]] = []
    for future in appends:
        if wait or future.done():
            future.result(timeout=30.0)
        else:
            still.append(future)
    appends[:] = still


def snapshot(stats: WriterStats) -> WriterStats:
    """A copy of the writer's counters now."""
    return WriterStats(stats.transactions, stats.appends, stats.records, stats.largest_batch)


def delta(after: WriterStats, before: WriterStats) -> WriterStats:
    """The window's counters; largest_batch is the run's (the writer keeps only a max)."""
    return WriterStats(
        after.transactions - before.transactions,
        after.appends - before.appends,
        after.records - before.records,
        after.largest_batch,
    )


@contextmanager
def scratch(root: str | None) -> Iterator[Path]:
    """A temporary directory for database files, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="sagalog-bench-", dir=root))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def filesystem(directory: str) -> str:
    """The file system type the database files live on (fsync costs differ wildly)."""
    best = ""
    kind = "unknown"
    resolved = str(Path(directory).resolve())
    for part in psutil.disk_partitions(all=True):
        mount = part.mountpoint
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > len(best):
            best, kind = mount, part.fstype
    return f"{kind} at {best or '?'}"


def print_machine(
    title: str, argv: Sequence[str], root: str | None, libraries: Sequence[str]
) -> None:
    """The header every benchmark prints: what ran, where, with which versions."""
    directory = root or tempfile.gettempdir()
    print(title)
    print(f"  command   {' '.join([Path(sys.executable).name, *argv])}")
    print(f"  platform  {platform.platform()} ({platform.machine()})")
    print(f"  cpus      {os.cpu_count()}")
    print(f"  python    {platform.python_implementation()} {platform.python_version()}")
    print(f"  sqlite    {sqlite3.sqlite_version}")
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in libraries)
    print(f"  libraries {versions}")
    print(f"  files in  {directory} ({filesystem(directory)})")
