"""A local HTTP file server with strong ETags, for the ETL workflow's tests and showcase.

It serves one directory on 127.0.0.1 (a free port), answers GET and HEAD with a strong
ETag (a hash of the content, so it changes when the file does) and Content-Length, and
404 for anything missing or outside the directory. It counts requests by method and path,
so a test can prove that a probe never downloaded a body, or that a crash and a resume
downloaded each file once. ``on_request`` lets a test hold a request (to crash a run at
a chosen moment)::

    with serve_directory(tmp_path / "site") as server:
        url = f"{server.base_url}/cities.csv"
        ...
        assert server.count("GET", "/cities.csv") == 1

``routes`` answer chosen paths the way hostile or broken servers do, to test the
download's limits against a real socket: :func:`endless_body` (never ends),
:func:`trickle` (a byte at a time), :func:`redirect_to` (a Location of any scheme)::

    server.routes["/forever.csv"] = endless_body()
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from loguru import logger

__all__ = ["FileServer", "Route", "endless_body", "redirect_to", "serve_directory", "trickle"]

_CHUNK = 1 << 16
_TYPES = {".csv": "text/csv", ".json": "application/json", ".gz": "application/gzip",
          ".zip": "application/zip", ".parquet": "application/vnd.apache.parquet"}


Route = Callable[["_Handler", bool], None]
"""Answers one request in place of a file: ``(handler, body_wanted)``."""


class FileServer(ThreadingHTTPServer):
    """Serves ``root``; counts requests; calls ``on_request(method, path)`` before answering.

    ``on_request`` may block (to hold a request while a test crashes the client) and may
    return False to drop the connection unanswered.
    """

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root.resolve()
        self.requests: Counter[tuple[str, str]] = Counter()
        """Requests received, by (method, path)."""
        self.served: Counter[tuple[str, str]] = Counter()
        """Requests answered with a whole file, by (method, path)."""
        self.on_request: Callable[[str, str], bool | None] | None = None
        self.routes: dict[str, Route] = {}
        """Paths answered by a :data:`Route` instead of a file."""
        self.stopping = threading.Event()
        """Set when the server stops: slow routes stop waiting."""
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: append ``/name`` for a file of the directory."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def count(self, method: str, path: str | None = None) -> int:
        """Requests of ``method`` (for ``path``, or for any path) received so far."""
        with self._lock:
            return sum(number for (kind, where), number in self.requests.items()
                       if kind == method and (path is None or where == path))

    def received(self, method: str, path: str) -> bool:
        """Count a request, then let ``on_request`` see (or hold) it; False: drop it."""
        with self._lock:
            self.requests[method, path] += 1
        hook = self.on_request
        return hook is None or hook(method, path) is not False

    def answered(self, method: str, path: str) -> None:
        """Count a request answered in full."""
        with self._lock:
            self.served[method, path] += 1

    def resolve(self, path: str) -> Path | None:
        """The file ``path`` names inside the root, or None (missing, or outside it)."""
        target = (self.root / unquote(urlsplit(path).path).lstrip("/")).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            return None
        return target


def etag_of(path: Path) -> str:
    """A strong ETag: the quoted SHA-256 of the content (changes exactly when it does)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return f'"{digest.hexdigest()[:32]}"'


class _Handler(BaseHTTPRequestHandler):
    server: FileServer
    protocol_version = "HTTP/1.1"

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        path = urlsplit(self.path).path
        if not self.server.received(self.command, path):
            self.close_connection = True
            return
        route = self.server.routes.get(path)
        if route is not None:
            with contextlib.suppress(ConnectionError):
                route(self, body)
            return
        target = self.server.resolve(self.path)
        if target is None:
            self.send_response(HTTPStatus.NOT_FOUND)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("ETag", etag_of(target))
        self.send_header("Content-Length", str(target.stat().st_size))
        self.send_header("Content-Type", _TYPES.get(target.suffix, "application/octet-stream"))
        self.end_headers()
        if body:
            with target.open("rb") as handle, contextlib.suppress(ConnectionError):
                while chunk := handle.read(_CHUNK):
                    self.wfile.write(chunk)
                self.wfile.flush()
                self.server.answered(self.command, path)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        logger.bind(actor="etl-server").debug("{} {}", self.address_string(), format % args)


def redirect_to(location: str, status: int = HTTPStatus.FOUND) -> Route:
    """A route answering ``status`` with ``Location: location`` (whatever its scheme)."""
    def answer(handler: _Handler, _body: bool) -> None:  # noqa: FBT001 - the Route signature
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return answer


def endless_body(pattern: bytes = b"id,value\n1,2\n") -> Route:
    """A route whose body never ends: ``pattern`` repeated until the client hangs up.

    No Content-Length is sent, so only a size cap can stop the reader (or the server's end).
    """
    block = pattern * max(1, _CHUNK // len(pattern))

    def answer(handler: _Handler, body: bool) -> None:  # noqa: FBT001 - the Route signature
        handler.send_response(HTTPStatus.OK)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        while body and not handler.server.stopping.is_set():
            handler.wfile.write(block)
    return answer


def trickle(content: bytes, every: float) -> Route:
    """A route sending ``content`` (its length announced) one byte per ``every`` seconds.

    Each byte arrives well within any read timeout, so only a deadline stops it.
    """
    def answer(handler: _Handler, body: bool) -> None:  # noqa: FBT001 - the Route signature
        handler.send_response(HTTPStatus.OK)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.flush()
        for index in range(len(content) if body else 0):
            if handler.server.stopping.wait(every):
                return
            handler.wfile.write(content[index:index + 1])
            handler.wfile.flush()
        if body:
            handler.server.answered(handler.command, urlsplit(handler.path).path)
    return answer


@contextlib.contextmanager
def serve_directory(path: str | Path) -> Iterator[FileServer]:
    """Serve ``path`` on a free local port until the block ends; yields the server.

    ``server.base_url`` is the URL of the directory's root.
    """
    server = FileServer(Path(path))
    # A short poll: shutdown() waits for it, and tests start and stop many servers.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,),
                              name="etl-file-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
