"""The ETL workflow's two HTTP effects: probe a source (HEAD) and download it (GET).

The probe reads the ETag and Content-Length of a HEAD answer and never a body. The
download streams the body to a partial file of its own while hashing it (constant
memory, whatever the size), checks the length the server announced, then renames the
file into place, so a file at its final path is always complete. The final path is
fixed by the run and the source: a command delivered again after a crash (the file
renamed, the result not yet committed), or handled by a second process at the same
time, waits for the source's lock and answers from the published file without a GET.

Nothing the server does can make a download endless: the body is capped (the command's
``max_bytes``, announced or counted), the whole download has a deadline (connect,
redirects and every read; a server trickling a byte a second no longer resets a
per-read timeout forever), and redirects are followed to http(s) only, five at most.
Each refusal is a ``DownloadFailed`` with its ``cause``; its partial file is removed.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import BinaryIO

from sagalog.actors._etl_deadline import Deadline
from sagalog.actors._etl_errors import (
    DownloadError,
    ShortBodyError,
    TooLargeError,
)
from sagalog.actors._etl_files import (
    discard_leftovers,
    new_partial,
    publish,
    read_origin,
    source_lock,
    write_origin,
)
from sagalog.actors._etl_redirects import opener
from sagalog.events.etl import (
    Downloaded,
    DownloadFailed,
    DownloadFailure,
    DownloadSource,
    ProbeFailed,
    SourceProbed,
)

__all__ = ["EXTENSIONS", "download", "download_path", "probe", "sha256_of"]

CHUNK = 1 << 20
"""Bytes read and hashed at a time: 1 MiB keeps a 1 GB download at a few MiB of memory."""

EXTENSIONS = {"csv": ".csv", "json": ".json", "gzip": ".gz", "zip": ".zip",
              "parquet": ".parquet"}

_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class _Answer:
    status: int
    etag: str | None
    size: int | None


def probe(source_id: str, url: str, headers: dict[str, str],
          timeout: float) -> SourceProbed | ProbeFailed:
    """HEAD ``url``: SourceProbed with its ETag and size, or ProbeFailed naming the error."""
    try:
        answer = _head(url, headers, timeout)
    except DownloadError as error:
        return ProbeFailed(source_id=source_id, error=str(error))
    except (OSError, HTTPException, ValueError) as error:
        return ProbeFailed(source_id=source_id, error=_describe(error))
    return SourceProbed(source_id=source_id, etag=answer.etag, size=answer.size,
                        status=answer.status)


def _head(url: str, headers: dict[str, str], timeout: float) -> _Answer:
    request = _request(url, headers, "HEAD")
    with opener(lambda: timeout).open(request, timeout=timeout) as response:
        return _Answer(response.status, response.headers.get("ETag"),
                       _length(response.headers.get("Content-Length")))


def download_path(command: DownloadSource) -> Path:
    """Where this run's download of the source goes: ``DIR/SOURCE/RUN.EXT``."""
    extension = EXTENSIONS[command.expected_format]
    return Path(command.download_dir) / command.source_id / f"{command.run_id}{extension}"


def download(command: DownloadSource,
             clock: Callable[[], float] = time.monotonic) -> Downloaded | DownloadFailed:
    """Stream the source to :func:`download_path`, hashing it; reuse a complete file there.

    ``clock`` (seconds, monotonic) measures the command's deadline; tests pass their own.
    """
    final = download_path(command)
    try:
        with source_lock(final):
            return _download_locked(command, final, clock)
    except OSError as error:  # no lock file, no partial file, an unreadable published file
        return DownloadFailed(source_id=command.source_id, error=_describe(error), cause="io")


def _download_locked(command: DownloadSource, final: Path,
                     clock: Callable[[], float]) -> Downloaded | DownloadFailed:
    if final.exists():  # published before a crash, or by another handler of the command
        return _published(command, final)
    discard_leftovers(final)
    partial, out = new_partial(final)
    try:
        with out:
            etag, digest, size, final_url = _fetch(command, out, clock)
        write_origin(final, final_url, etag)
        publish(partial, final)
    except DownloadError as error:
        partial.unlink(missing_ok=True)
        return DownloadFailed(source_id=command.source_id, error=str(error), cause=error.cause)
    except (OSError, HTTPException, ValueError) as error:
        partial.unlink(missing_ok=True)
        return DownloadFailed(source_id=command.source_id, error=_describe(error),
                              cause=_cause(error))
    return Downloaded(source_id=command.source_id, path=str(final), sha256=digest, size=size,
                      etag=etag, final_url=final_url)


def _published(command: DownloadSource, final: Path) -> Downloaded:
    digest, size = sha256_of(final)
    final_url, etag = read_origin(final) or (None, command.probed_etag)
    return Downloaded(source_id=command.source_id, path=str(final), sha256=digest, size=size,
                      etag=etag, final_url=final_url)


def _fetch(command: DownloadSource, out: BinaryIO,
           clock: Callable[[], float]) -> tuple[str | None, str, int, str]:
    """GET into ``out``: the ETag, SHA-256, size and final URL, within the command's limits."""
    deadline = Deadline(command.deadline, command.url, clock)
    request = _request(command.url, command.headers, "GET")
    connect, _ = deadline.wait(command.timeout)
    with opener(deadline.left).open(request, timeout=connect) as response:
        final_url = response.geturl()
        announced = _length(response.headers.get("Content-Length"))
        if announced is not None and announced > command.max_bytes:
            msg = (f"too large: {final_url} announces {announced} bytes, over the cap of "
                   f"{command.max_bytes} bytes (max_bytes)")
            raise TooLargeError(msg)
        digest, size = _copy(response, out, command, deadline, final_url)
        out.flush()
        os.fsync(out.fileno())
        if announced is not None and size != announced:
            msg = f"short body: got {size} of {announced} bytes"
            raise ShortBodyError(msg)
        return response.headers.get("ETag"), digest, size, final_url


def _copy(response: HTTPResponse, out: BinaryIO, command: DownloadSource, deadline: Deadline,
          url: str) -> tuple[str, int]:
    """Copy the body a read at a time, checking the cap and the deadline at each read.

    ``read1`` answers with what one read of the socket brings: ``read(n)`` would wait for
    all n bytes, which a trickling server can make last for days within the read timeout.
    """
    cap = command.max_bytes
    digest = hashlib.sha256()
    size = 0
    while True:
        wait, deadline_nearer = deadline.wait(command.timeout)
        _bound_next_read(response, wait)
        try:
            chunk = response.read1(min(CHUNK, cap - size + 1))
        except TimeoutError:
            if deadline_nearer:
                raise deadline.exceeded() from None
            raise
        if not chunk:
            return digest.hexdigest(), size
        size += len(chunk)
        if size > cap:
            msg = (f"too large: the body of {url} goes past the cap of {cap} bytes "
                   f"(max_bytes); stopped there")
            raise TooLargeError(msg)
        digest.update(chunk)
        out.write(chunk)


def _bound_next_read(response: HTTPResponse, seconds: float) -> None:
    """Let the next read of ``response``'s socket wait ``seconds`` at most.

    http.client keeps the socket only inside the response's buffered reader, so it is
    reached through the reader's ``raw`` stream; without one (a response not read from a
    socket) the timeout set at connect stays.
    """
    raw = getattr(response.fp, "raw", None)
    sock = getattr(raw, "_sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


def sha256_of(path: Path) -> tuple[str, int]:
    """The SHA-256 (hex) and size of a file, read a chunk at a time."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _request(url: str, headers: dict[str, str], method: str) -> urllib.request.Request:
    if not url.startswith(_SCHEMES):
        msg = f"unsupported URL scheme in {url!r} (http or https)"
        raise ValueError(msg)
    return urllib.request.Request(url, headers=headers, method=method)  # noqa: S310


def _length(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _cause(error: BaseException) -> DownloadFailure:
    if isinstance(error, urllib.error.HTTPError):
        return "http_status"
    if isinstance(error, urllib.error.URLError):
        return "connect"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, OSError):
        return "io"
    return "other"


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        error.close()  # it holds the error response open
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"cannot connect: {error.reason}"
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"
