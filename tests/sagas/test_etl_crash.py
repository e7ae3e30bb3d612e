"""Crash safety of the ETL workflow, through the command line as a user runs it.

A run of four sources is SIGKILLed while the download of one is in flight (the test's
server holds that GET until the kill, then drops it), with the other sources at whatever
stage they reached: probed, downloaded (recorded, or on disk and not yet recorded),
validated, recorded. ``run.py etl --resume`` in a new process then finishes the run.
Each file must have been served once (the interrupted GET served nothing), each source
must have one manifest record and one end, and a later run finds all four up to date.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sagalog.actors.etl_server import serve_directory
from sagalog.sagas.etl import unfinished_etl
from sagalog.store import open_store
from tests.sagas.test_order_crash import complaints

pytestmark = pytest.mark.slow

RUN = Path(__file__).resolve().parents[2] / "run.py"
FILES = {
    "a.csv": b"id,name\n1,alpha\n",
    "b.json": b'{"rows": [1, 2, 3]}',
    "c.csv": b"id,name\n3,gamma\n",
    "d.gz": gzip.compress(b"id,name\n4,delta\n", mtime=0),
}
FORMATS = {".csv": "csv", ".json": "json", ".gz": "gzip"}
HELD = "/c.csv"


def cli(db, *args, timeout=60):
    return subprocess.run([sys.executable, str(RUN), "-q", "etl", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_a_run_killed_mid_download_resumes_without_downloading_anything_twice(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    for name, content in FILES.items():
        (root / name).write_bytes(content)
    db = tmp_path / "etl.db"
    held = threading.Event()
    killed = threading.Event()

    def hold(method, path):
        if method == "GET" and path == HELD and not killed.is_set():
            held.set()
            killed.wait(30)
            return False  # the client is gone: drop the connection, serve nothing
        return None

    with serve_directory(root) as server:
        server.on_request = hold
        config = tmp_path / "sources.json"
        config.write_text(json.dumps({"base_url": server.base_url, "sources": [
            {"source_id": Path(name).stem, "url": name,
             "expected_format": FORMATS[Path(name).suffix]} for name in FILES]}))
        stderr = (tmp_path / "first.err").open("wb")
        child = subprocess.Popen(
            [sys.executable, str(RUN), "etl", "--db", str(db), "--config", str(config)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            assert held.wait(30), "the held download never started"
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=10) == -signal.SIGKILL
        finally:
            killed.set()
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
            stderr.close()
        assert complaints((tmp_path / "first.err").read_text()) == []

        # Mid-run: the held source has not ended, and its file was never served.
        with open_store(db) as store:
            assert "c" in {saga.rsplit("/", 1)[1] for saga in unfinished_etl(store)}
        assert server.served["GET", HELD] == 0

        resumed = cli(db, "--resume")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert complaints(resumed.stderr) == []

        # Each file served once; the held one requested twice, served once.
        assert {path: server.served["GET", path] for _, path in server.served} == {
            f"/{name}": 1 for name in FILES}
        assert server.count("GET", HELD) == 2

        with open_store(db) as store:
            assert unfinished_etl(store) == set()
            counts = collections.Counter(
                (record.type, record.correlation_id)
                for record in store.read_all(types=["Downloaded", "ManifestRecorded",
                                                    "SourceUpdated", "SourceFailed"]))
        sagas = {saga for _, saga in counts}
        assert len(sagas) == len(FILES)
        for saga in sagas:
            assert counts["Downloaded", saga] == 1, saga
            assert counts["ManifestRecorded", saga] == 1, saga
            assert counts["SourceUpdated", saga] == 1, saga
        downloaded = sorted((tmp_path / "downloads").glob("[!.]*/*"))  # not .etl/
        assert [path.read_bytes() for path in downloaded] == list(FILES.values())

        # A later run finds everything in place: nothing downloaded again.
        again = cli(db, "--config", str(config))
        assert again.returncode == 0, again.stderr[-3000:]
        assert again.stdout.count("up to date") == len(FILES)
        assert sum(server.served.values()) == len(FILES)
