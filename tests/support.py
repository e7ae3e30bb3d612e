"""Message types and helpers shared by the test suite."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import Field

from sagalog.events import Command, Event

T = TypeVar("T")


class Deposited(Event, name="test.Deposited"):
    account: str
    amount: int


class Withdrawn(Event, name="test.Withdrawn"):
    account: str
    amount: int


class OpenAccount(Command, name="test.OpenAccount"):
    account: str


class Note(Event, name="test.Note"):
    text: str
    extra: dict[str, Any] = Field(default_factory=dict)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one async scenario to completion (the suite needs no async plugin)."""
    return asyncio.run(coroutine)


class LogCapture:
    """Collects sagalog's log records for assertions (loguru sink, removed afterwards)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def __call__(self, message: Any) -> None:  # loguru calls a sink with the message
        record = message.record
        self.records.append(
            {"level": record["level"].name, "message": record["message"],
             "extra": dict(record["extra"]), "name": record["name"]}
        )

    def messages(self, level: str | None = None) -> list[str]:
        return [r["message"] for r in self.records if level is None or r["level"] == level]


class LineReader:
    """Reads whole lines from a child's stdout pipe, with a deadline, without a thread."""

    def __init__(self, stream: Any) -> None:
        self._fd = stream.fileno()
        self._buffer = b""
        self.eof = False

    def next_line(self, deadline: float) -> str | None:
        """The next complete line, or None at end of file; TimeoutError past ``deadline``."""
        while b"\n" not in self._buffer:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line from the child before the deadline")
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    self.eof = True
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()


def wal_stamp(wal: Any) -> tuple[int, int] | None:
    try:
        stat = wal.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def wait_for_wal_write(path: Any, deadline: float) -> None:
    """Return as soon as the WAL file changes: some process is writing a transaction."""
    wal = Path(f"{path}-wal")
    start = wal_stamp(wal)
    while wal_stamp(wal) == start:
        if time.monotonic() > deadline:
            raise TimeoutError("the WAL did not change before the deadline")


def log_bytes(path: Path) -> list[str]:
    """What a log holds, byte for byte: digests of the database file and of its WAL.

    A read-only SQLite connection on a WAL log creates an empty ``-wal`` (and ``-shm``)
    beside it when there is none and cannot delete them as it closes; neither holds a
    record, so a missing WAL and an empty one both count as "-". Any other change to
    either file shows.
    """
    wal = Path(f"{path}-wal")
    return [hashlib.sha256(path.read_bytes()).hexdigest(),
            hashlib.sha256(wal.read_bytes()).hexdigest()
            if wal.exists() and wal.stat().st_size else "-"]


class MountRefusedError(Exception):
    """``mount`` failed: not root, or no right to mount here (a container without it)."""


def _mount(*arguments: str) -> None:
    try:
        result = subprocess.run(["mount", *arguments], capture_output=True, text=True,
                                timeout=30, check=False)
    except FileNotFoundError as error:
        raise MountRefusedError("no mount command") from error
    if result.returncode != 0:
        raise MountRefusedError(result.stderr.strip() or f"mount exited {result.returncode}")


def _umount(target: Path) -> None:
    # A process the test started may still hold a file there; detach the mount anyway
    # (-l) rather than leave it behind for the next test.
    if subprocess.run(["umount", str(target)], capture_output=True, timeout=30,
                      check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30,
                       check=True)


@contextlib.contextmanager
def mounted(target: Path, *arguments: str) -> Iterator[Path]:
    """``mount ARGUMENTS... TARGET`` for the ``with`` block, then ``umount TARGET``.

    E.g. ``mounted(folder, "-t", "tmpfs", "-o", "size=64k", "tmpfs")`` for a small disk.
    Raises :class:`MountRefusedError` when mounting is not allowed here.
    """
    _mount(*arguments, str(target))
    try:
        yield target
    finally:
        _umount(target)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[str]:
    """``path`` (a folder or a file) read-only in place for the ``with`` block.

    Root ignores file modes, so as root (here and in CI) it is a read-only bind mount of
    ``path`` onto itself: what a mounted backup is. Elsewhere it is ``chmod a-w``. Yields
    how; skips the test, saying why, when neither makes ``path`` read-only.
    """
    if os.geteuid() == 0:
        with contextlib.ExitStack() as undo:
            try:
                undo.enter_context(mounted(path, "--bind", str(path)))
                _mount("-o", "remount,bind,ro", str(path))
            except MountRefusedError as error:
                pytest.skip(f"cannot make {path} read-only: root ignores file modes and "
                            f"mount was refused ({error})")
            _require_read_only(path, "a read-only bind mount")
            yield "read-only bind mount"
        return
    mode = path.stat().st_mode
    path.chmod(mode & ~0o222)
    try:
        _require_read_only(path, "chmod a-w")
        yield "chmod a-w"
    finally:
        path.chmod(mode)


def _require_read_only(path: Path, how: str) -> None:
    """Skip unless writing to ``path`` (creating a file in it, for a folder) now fails."""
    probe = path / ".write-probe" if path.is_dir() else path
    try:
        with probe.open("a"):
            pass
    except OSError:
        return
    if probe != path:
        probe.unlink()
    pytest.skip(f"{how} left {path} writable; no way to make it read-only here")


def folder_bytes(folder: Path) -> dict[str, str]:
    """Every file of ``folder``, by name, with the SHA-256 of its bytes."""
    return {file.name: hashlib.sha256(file.read_bytes()).hexdigest()
            for file in sorted(folder.iterdir()) if file.is_file()}


def on_a_terminal(
    command: list[str],
    *,
    stdout: bool = False,
    columns: int = 80,
    env: dict[str, str | None] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 120.0,
) -> tuple[int, str, str]:
    """Run ``command`` with stderr (and, asked, stdout) on a pseudo-terminal ``columns`` wide.

    Returns the exit code, what the terminal got (its line discipline writes each "\\n" as
    "\\r\\n"), and what went to the stdout pipe when stdout is not the terminal. The child
    inherits this environment less ``COLUMNS`` and ``LINES`` (they override the terminal's
    size), changed by ``env`` (None unsets a variable).
    """
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("COLUMNS", "LINES")}
    environment.update(env or {})
    deadline = time.monotonic() + timeout
    try:
        process = subprocess.Popen(command, stdout=follower if stdout else subprocess.PIPE,
                                   stderr=follower, stdin=subprocess.DEVNULL, cwd=cwd,
                                   env={k: v for k, v in environment.items() if v is not None})
        os.close(follower)
        follower = -1
        terminal: list[bytes] = []
        piped: list[bytes] = []
        streams = {leader: terminal}
        if process.stdout is not None:
            streams[process.stdout.fileno()] = piped
        try:
            _drain(streams, deadline)
        except TimeoutError:
            process.kill()
            raise
        code = process.wait(timeout=max(deadline - time.monotonic(), 1))
        if process.stdout is not None:
            process.stdout.close()
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    return code, b"".join(terminal).decode(), b"".join(piped).decode()


def _drain(streams: dict[int, list[bytes]], deadline: float) -> None:
    """Read every stream to its end, all at once: a full pipe or terminal blocks its writer."""
    while streams:
        ready, _, _ = select.select(list(streams), [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            raise TimeoutError("the command was still writing at the deadline")
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal is closed (EIO) and drained
                chunk = b""
            if chunk:
                streams[fd].append(chunk)
            else:
                del streams[fd]


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "512k") -> Iterator[Path]:
    """A tmpfs of ``size`` on ``folder`` for the ``with`` block: a disk that fills up.

    Skips the test, saying why, when mounting is not allowed here (not root, a container
    without the right). Unmounted afterwards, also when the block fails.
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    except MountRefusedError as error:
        pytest.skip(f"cannot mount a small tmpfs here for a full disk ({error})")
    try:
        yield folder
    finally:
        _umount(folder)


def fill_disk(folder: Path, *, leave: int = 0) -> Path:
    """Fill the file system holding ``folder`` with a file, up to ``leave`` bytes free.

    Returns the filler: delete it to free the space again. Written in 4 KiB pages (what
    tmpfs allocates) until the target or ENOSPC, whichever comes first.
    """
    filler = folder / "filler"
    stats = os.statvfs(folder)
    wanted = max(stats.f_bavail * stats.f_frsize - leave, 0)
    page = b"\0" * 4096
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        written = 0
        while written < wanted:
            try:
                written += os.write(descriptor, page[: min(4096, wanted - written)])
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(descriptor)
    return filler


def free_bytes(folder: Path) -> int:
    """Bytes this user may still write on the file system holding ``folder``."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize
