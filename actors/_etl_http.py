"""The ETL workflow's two HTTP effects: probe a source (HEAD) and download it (GET).

The probe reads the ETag and Content-Length of a HEAD answer and never a body. The
download streams the body to a partial file while hashing it (constant memory, whatever
the size), checks the length the server announced, then renames the file into place, so
a file at its final path is always complete. The final path is fixed by the run and the
source: a command delivered again after a crash (the file renamed, the result not yet
committed) finds the file there and answers from it without a second GET.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO

from sagalog.events.etl import Downloaded, DownloadFailed, DownloadSource, ProbeFailed, SourceProbed

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
    except (OSError, HTTPException, ValueError) as error:
        return ProbeFailed(source_id=source_id, error=_describe(error))
    return SourceProbed(source_id=source_id, etag=answer.etag, size=answer.size,
                        status=answer.status)


def _head(url: str, headers: dict[str, str], timeout: float) -> _Answer:
    request = _request(url, headers, "HEAD")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
        return _Answer(response.status, response.headers.get("ETag"),
                       _length(response.headers.get("Content-Length")))


def download_path(command: DownloadSource) -> Path:
    """Where this run's download of the source goes: ``DIR/SOURCE/RUN.EXT``."""
    extension = EXTENSIONS[command.expected_format]
    return Path(command.download_dir) / command.source_id / f"{command.run_id}{extension}"


def download(command: DownloadSource) -> Downloaded | DownloadFailed:
    """Stream the source to :func:`download_path`, hashing it; reuse a complete file there."""
    final = download_path(command)
    if final.exists():  # done before a crash: the rename is the last thing a download does
        digest, size = sha256_of(final)
        return Downloaded(source_id=command.source_id, path=str(final), sha256=digest,
                          size=size, etag=command.probed_etag)
    partial = final.parent.parent / ".partial" / f"{command.source_id}-{command.run_id}.part"
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        etag, digest, size = _fetch(command, partial)
    except (OSError, HTTPException, ValueError) as error:
        partial.unlink(missing_ok=True)
        return DownloadFailed(source_id=command.source_id, error=_describe(error))
    final.parent.mkdir(parents=True, exist_ok=True)
    partial.replace(final)
    return Downloaded(source_id=command.source_id, path=str(final), sha256=digest, size=size,
                      etag=etag)


def _fetch(command: DownloadSource, partial: Path) -> tuple[str | None, str, int]:
    request = _request(command.url, command.headers, "GET")
    with urllib.request.urlopen(request, timeout=command.timeout) as response:  # noqa: S310
        announced = _length(response.headers.get("Content-Length"))
        with partial.open("wb") as out:
            digest, size = _copy(response, out)
            out.flush()
            os.fsync(out.fileno())
        if announced is not None and size != announced:
            msg = f"short body: got {size} of {announced} bytes"
            raise ValueError(msg)
        return response.headers.get("ETag"), digest, size


def _copy(source: BinaryIO, out: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        out.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


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


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        error.close()  # it holds the error response open
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"cannot connect: {error.reason}"
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"
