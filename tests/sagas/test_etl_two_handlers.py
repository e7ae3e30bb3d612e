"""Two processes handling the same download commands at once (issue #9).

Both once GET each source into one shared ``.part`` file; one renamed it while the other
still wrote, and 7 of 12 good sources were quarantined. Here two real processes
(``procs/etl_handler.py``) handle the same twelve commands against the local server.
The server holds the first GET of each file until the other process has either sent its
own GET of it (the old behaviour: two downloads of one file, at the same time) or is
waiting for the source's lock (``/proc/locks`` shows the waiter), so the two handlers
always meet on every source. Every source must end validated in both, each file must
be served once, and no partial file may be left.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sagalog.actors.etl_server import serve_directory
from sagalog.events.etl import DownloadSource

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux's /proc/locks"),
]

HANDLER = Path(__file__).resolve().parent / "procs" / "etl_handler.py"
SOURCES = 12
DEADLINE = 60.0


def content(index: int) -> bytes:
    """A CSV of a few hundred KiB: many reads, so two writers of one file would interleave."""
    rows = b"".join(b"%d,%d,row-%d\n" % (index, row, row) for row in range(20_000))
    return b"source,row,name\n" + rows


def waiting_for_a_lock(pids: set[int]) -> bool:
    """Whether one of ``pids`` is blocked on an flock (a ``->`` line of /proc/locks)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields:
            after = fields[fields.index("->") + 1:]
            if len(after) > 3 and after[3].isdigit() and int(after[3]) in pids:
                return True
    return False


class Meeting:
    """Holds the first GET of each file until the other handler has met it there."""

    def __init__(self, paths: list[str]) -> None:
        self.held = {path: threading.Event() for path in paths}
        self.second_get = {path: threading.Event() for path in paths}
        self.release = {path: threading.Event() for path in paths}

    def on_request(self, count: int, path: str) -> None:
        """The server's hook, for the ``count``-th GET of ``path``."""
        if path not in self.held:
            return
        if count == 1:
            self.held[path].set()
            self.release[path].wait(DEADLINE)
        else:
            self.second_get[path].set()

    def run(self, handlers: list[subprocess.Popen[bytes]]) -> None:
        """For each file in turn: wait for its held GET, then for the other handler to meet it.

        The other handler meets it by sending a GET of its own (two downloads of one file)
        or by blocking on the source's lock; either way the held GET is then released.
        """
        pids = {handler.pid for handler in handlers}
        for path, held in self.held.items():
            assert held.wait(DEADLINE), f"no GET of {path}"
            give_up = time.monotonic() + DEADLINE
            # Wake on the second GET's event; look at /proc/locks every few milliseconds.
            while not self.second_get[path].wait(0.005) and not waiting_for_a_lock(pids):
                assert time.monotonic() < give_up, f"the other handler never met {path}"
                assert all(h.poll() is None for h in handlers), "a handler died"
            self.release[path].set()

    def end(self) -> None:
        """Release every held request (the test is over, or failed)."""
        for event in self.release.values():
            event.set()


def start_handlers(tmp_path: Path, base_url: str, names: list[str]) -> list[
        subprocess.Popen[bytes]]:
    """Two handler processes of the same download commands, one per file."""
    commands = [DownloadSource(
        run_id="r1", source_id=Path(name).stem, url=f"{base_url}/{name}", headers={},
        timeout=10, download_dir=str(tmp_path / "downloads"), expected_format="csv",
        probed_etag=None).model_dump(mode="json") for name in names]
    spec = tmp_path / "commands.json"
    spec.write_text(json.dumps({"commands": commands,
                                "quarantine_dir": str(tmp_path / "quarantine")}))
    return [subprocess.Popen([sys.executable, str(HANDLER), str(spec)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]


def test_two_processes_on_the_same_commands_publish_every_good_source_once(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    files = {f"s{index:02d}.csv": content(index) for index in range(SOURCES)}
    for name, body in files.items():
        (root / name).write_bytes(body)
    meeting = Meeting([f"/{name}" for name in files])

    with serve_directory(root) as server:
        def hook(method: str, path: str) -> None:
            if method == "GET":
                meeting.on_request(server.count("GET", path), path)

        server.on_request = hook
        handlers = start_handlers(tmp_path, server.base_url, list(files))
        try:
            meeting.run(handlers)
            outputs = [handler.communicate(timeout=DEADLINE) for handler in handlers]
        finally:
            meeting.end()
            for handler in handlers:
                if handler.poll() is None:
                    handler.kill()
                    handler.wait(timeout=10)
        served = {path: server.count("GET", path) for path in meeting.held}

    for handler, (stdout, stderr) in zip(handlers, outputs, strict=True):
        assert handler.returncode == 0, stderr.decode()[-2000:]
        results = [json.loads(line) for line in stdout.decode().splitlines()]
        assert [(r["source"], r.get("download"), r.get("validate"), r.get("reason"),
                 r.get("crash")) for r in results] == [
            (Path(name).stem, "Downloaded", "Validated", None, None) for name in files]
    assert served == dict.fromkeys(meeting.held, 1)
    for name, body in files.items():
        assert (tmp_path / "downloads" / Path(name).stem / "r1.csv").read_bytes() == body
    assert not (tmp_path / "quarantine").exists()
    assert list((tmp_path / "downloads").rglob("*.part")) == []
