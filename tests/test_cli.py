"""The command line, run as a user runs it: real subprocesses on real files."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

RUN = str(Path(__file__).resolve().parent.parent / "run.py")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, RUN, "-q", *args], cwd=cwd, capture_output=True, text=True,
        timeout=120, check=False,
    )


def jsonl(text: str) -> list[str]:
    """The lines of a JSON Lines text: split on \\n only, as ``str.splitlines`` is not."""
    return text.split("\n")[:-1]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_main_job_runs_every_workflow_in_its_own_folder(tmp_path: Path) -> None:
    """`python run.py` names ./sagalog-showcase/ first, writes only there, says how to look."""
    result = cli(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == ("sagalog: the showcase writes everything under "
                                   "./sagalog-showcase/ (its log: sagalog-showcase/sagalog.db)")
    assert [path.name for path in tmp_path.iterdir()] == ["sagalog-showcase"]
    assert (tmp_path / "sagalog-showcase" / "sagalog.db").exists()
    assert "design note" not in out
    assert "total                       12" in out
    assert "worker stopped (no work left): 2 JobCompleted, 0 JobFailed, 1 JobRejected" in out
    assert ": success\n" in out
    assert ": partial_success\n  collector  failed, rollback SUCCESS" in out
    assert "master pipeline run " in out
    assert "semantic_refresh succeeded" in out
    assert out.count("up to date (download skipped: ETag unchanged since pos ") == 3
    assert "hash chain intact" in out
    table = out[out.index("kind              status"):].splitlines()
    rows = {tuple(line.split()[:2]) for line in table[1:] if not line.startswith(("explore", " "))}
    assert {("order", "completed"), ("order", "failed"), ("job", "completed"),
            ("job", "rejected"), ("data-pipeline", "completed"),
            ("master-pipeline", "completed"), ("etl-source", "completed")} <= rows
    hints = out[out.index("explore it: "):].removeprefix("explore it: ").splitlines()
    assert len(hints) == 5
    for hint in hints:  # pasted into a shell in the same folder, each works
        line = hint.strip()
        assert line.startswith(f"python {RUN} ")
        assert "--db sagalog-showcase/sagalog.db" in line
        pasted = subprocess.run(  # noqa: S602 - a pasted line is run by a shell
            line.replace("python", shlex.quote(sys.executable), 1), shell=True, cwd=tmp_path,
            capture_output=True, text=True, timeout=60, check=False)
        assert pasted.returncode == 0, (line, pasted.stderr)
        assert pasted.stdout, line
    explained = next(hint for hint in hints if " explain " in hint)
    assert "failed" in cli(*shlex.split(explained)[2:], cwd=tmp_path).stdout.splitlines()[0]


def test_main_job_with_a_log_path_writes_everything_beside_it(tmp_path: Path) -> None:
    """--db demo/app.db: the folder is named first, made if missing, and holds it all."""
    result = cli("--db", "demo/app.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "sagalog: the showcase writes everything beside its log demo/app.db, in demo/ "
        "(app.db and app.db.*)")
    assert [path.name for path in tmp_path.iterdir()] == ["demo"]
    made = sorted(path.name for path in (tmp_path / "demo").iterdir())
    assert "app.db" in made
    assert "app.db.showcase" in made
    assert all(name == "app.db" or name.startswith(("app.db.", "app.db-"))
               for name in made), made
    assert "explore it: python " in result.stdout
    assert f"{RUN} list --db demo/app.db\n" in result.stdout


@contextlib.contextmanager
def mounted(*commands: list[str], target: Path) -> Iterator[Path]:
    """``target`` mounted by ``commands`` (as root); skipped where mounting is not allowed."""
    done = 0
    try:
        for command in commands:
            mount = subprocess.run(command, capture_output=True, text=True, check=False)
            if mount.returncode != 0:
                pytest.skip(f"cannot mount here ({' '.join(command)}: {mount.stderr.strip()})")
            done += 1
        yield target
    finally:
        if done:
            subprocess.run(["umount", str(target)], check=True)


def test_main_job_in_a_read_only_folder_is_one_error_naming_it(tmp_path: Path) -> None:
    """A read-only bind mount (root ignores chmod): exit 2, the path, no traceback."""
    (tmp_path / "source").mkdir()
    (tmp_path / "ro").mkdir()
    with mounted(["mount", "--bind", str(tmp_path / "source"), str(tmp_path / "ro")],
                 ["mount", "-o", "remount,bind,ro", str(tmp_path / "ro")],
                 target=tmp_path / "ro") as folder:
        for arguments, message in (
            ([], "sagalog-showcase: Read-only file system"),
            (["--db", "app.db"], "app.db.showcase: Read-only file system"),
            (["--db", "sub/app.db"], "sub: Read-only file system"),
        ):
            result = cli(*arguments, cwd=folder)
            assert result.returncode == 2, (arguments, result.stderr)
            assert result.stdout.startswith("sagalog: the showcase writes everything ")
            assert result.stderr == f"sagalog: error: {message}\n", arguments
        assert list(folder.iterdir()) == []


def test_main_job_on_a_full_disk_is_one_error_naming_the_file(tmp_path: Path) -> None:
    """A 64 KB file system cannot hold the showcase's copies: ENOSPC, one line, exit 2."""
    (tmp_path / "tiny").mkdir()
    with mounted(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tmp_path / "tiny")],
                 target=tmp_path / "tiny") as folder:
        result = cli(cwd=folder)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("sagalog: error: sagalog-showcase/sagalog.db.showcase/")
    assert "No space left on device" in result.stderr
    assert result.stderr.count("\n") == 1


def test_order_with_a_failing_service_fails_and_says_so(tmp_path: Path) -> None:
    """`order --fail payment` ends the order as failed; --product-missing as not found."""
    failed = cli("order", "--db", "x.db", "--fail", "payment", cwd=tmp_path)
    assert failed.returncode == 0, failed.stderr
    assert failed.stdout.strip().endswith("OrderFailed")
    missing = cli("order", "--db", "x.db", "--product-missing", cwd=tmp_path)
    assert missing.stdout.strip().endswith("OrderNotFound")


def test_order_summary_counts_every_order(tmp_path: Path) -> None:
    """With --count, a table counts outcomes; the same seed gives the same choices."""
    first = cli("order", "--db", "a.db", "--count", "30", "--fail-rate", "0.3", "--seed", "9",
                cwd=tmp_path)
    second = cli("order", "--db", "b.db", "--count", "30", "--fail-rate", "0.3", "--seed", "9",
                 cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "total                       30" in first.stdout
    table = [line for line in first.stdout.splitlines() if line.startswith("Order")]
    assert table == [line for line in second.stdout.splitlines() if line.startswith("Order")]


def test_export_import_round_trip_and_idempotent_import(tmp_path: Path) -> None:
    """An export imports into a new log whole; importing it again appends nothing."""
    assert cli("order", "--db", "a.db", "--count", "5", "--fail-rate", "0.3",
               cwd=tmp_path).returncode == 0
    exported = cli("export", "--db", "a.db", cwd=tmp_path)
    lines = [line for line in jsonl(exported.stdout) if "kind" not in json.loads(line)]
    first = json.loads(lines[0])
    assert list(first) == ["position", "stream_id", "stream_version", "event_id", "type",
                           "version", "recorded_at", "correlation_id", "causation_id", "data"]
    (tmp_path / "log.jsonl").write_text(exported.stdout)
    imported = cli("import", "--db", "b.db", "log.jsonl", cwd=tmp_path)
    assert f"imported {len(lines)} new records" in imported.stdout, imported.stderr
    again = cli("import", "--db", "b.db", "log.jsonl", cwd=tmp_path)
    assert "imported 0 new records" in again.stdout
    reexported = [line for line in jsonl(cli("export", "--db", "b.db", cwd=tmp_path).stdout)
                  if "kind" not in json.loads(line)]  # the records, not the checkpoint lines
    keys = ("stream_id", "stream_version", "event_id", "type", "correlation_id", "causation_id",
            "data")
    assert [{k: json.loads(x)[k] for k in keys} for x in reexported] == [
        {k: json.loads(x)[k] for k in keys} for x in lines
    ]


def test_export_filters(tmp_path: Path) -> None:
    """--correlation, --stream, --from and --to select records."""
    cli("order", "--db", "a.db", "--count", "3", cwd=tmp_path)
    one = [json.loads(x) for x in jsonl(cli("export", "--db", "a.db", "--correlation", "o1-2",
                                            cwd=tmp_path).stdout)]
    assert one
    assert {r["correlation_id"] for r in one} == {"o1-2"}
    window = [json.loads(x)["position"] for x in jsonl(cli("export", "--db", "a.db", "--from",
                                                           "3", "--to", "7", cwd=tmp_path).stdout)]
    assert window == [3, 4, 5, 6, 7]


def test_import_of_a_bad_line_names_it_and_imports_nothing(tmp_path: Path) -> None:
    """A malformed line aborts the import with its number; the target log is untouched."""
    cli("order", "--db", "a.db", "--count", "2", cwd=tmp_path)
    lines = jsonl(cli("export", "--db", "a.db", cwd=tmp_path).stdout)
    lines[3] = lines[3].replace('"type":"', '"type":"Unknown')
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n{not json\n")
    cli("order", "--db", "target.db", "--count", "1", cwd=tmp_path)
    before = digest(tmp_path / "target.db")
    result = cli("import", "--db", "target.db", "bad.jsonl", cwd=tmp_path)
    assert result.returncode == 2
    assert "bad.jsonl: line 4:" in result.stderr
    assert "Traceback" not in result.stderr
    assert digest(tmp_path / "target.db") == before
    missing = cli("import", "--db", "fresh.db", "bad.jsonl", cwd=tmp_path)
    assert missing.returncode == 2
    assert not (tmp_path / "fresh.db").exists(), "a refused import creates no database"


def test_import_conflict_names_the_line(tmp_path: Path) -> None:
    """A line recorded otherwise in the target log is named, and nothing is imported."""
    cli("order", "--db", "a.db", "--count", "1", cwd=tmp_path)
    # The same order id, deterministic ids, but payment failed there: other content.
    cli("order", "--db", "b.db", "--count", "1", "--fail", "payment", cwd=tmp_path)
    (tmp_path / "a.jsonl").write_text(cli("export", "--db", "a.db", cwd=tmp_path).stdout)
    before = digest(tmp_path / "b.db")
    result = cli("import", "--db", "b.db", "a.jsonl", cwd=tmp_path)
    assert result.returncode == 2
    assert "line " in result.stderr
    assert "nothing was imported" in result.stderr
    assert digest(tmp_path / "b.db") == before


def test_verify_command_reports_tampering_with_exit_1(tmp_path: Path) -> None:
    """`run.py verify` exits 1 and names the first bad position of an edited log."""
    assert cli("order", "--db", "x.db", cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "x.db") as raw:
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("UPDATE events SET data = replace(data, 'product', 'pr0duct') "
                    "WHERE position = 4")
    result = cli("verify", "--db", "x.db", cwd=tmp_path)
    assert result.returncode == 1
    assert "position 4" in result.stdout
    as_json = cli("verify", "--db", "x.db", "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert list(report) == ["ok", "records", "first_bad_position", "problem", "quick_check"]
    assert (report["ok"], report["first_bad_position"], report["quick_check"]) == (
        False, 4, "ok")
    assert report["problem"] in result.stdout


def test_bad_database_file_gives_one_line_and_no_traceback(tmp_path: Path) -> None:
    """A file that is not a database: one clear line, non-zero exit, file untouched."""
    bad = tmp_path / "bad.db"
    bad.write_text("hello")
    before = digest(bad)
    for command in (["verify"], ["export"], ["resume"], ["order"]):
        result = cli(*command, "--db", str(bad), cwd=tmp_path)
        assert result.returncode == 2, command
        assert "Traceback" not in result.stderr
        assert "not an SQLite database" in result.stderr
        assert digest(bad) == before


def test_bad_flags_are_one_line_errors(tmp_path: Path) -> None:
    """An unknown service or a rate out of range is refused clearly."""
    assert "--fail takes one of" in cli("order", "--fail", "teleport", cwd=tmp_path).stderr
    assert "--fail-rate must be" in cli("order", "--fail-rate", "2", cwd=tmp_path).stderr


def test_an_export_holding_line_separators_imports_back(tmp_path: Path) -> None:
    """U+2028, U+2029, U+0085 and \\x1c-\\x1e in a record: export, import, export again."""
    odd = "a\u2028b\u2029c\u0085d\x1ce\x1df\x1eg"
    code = ("import sys\n"
            "from sagalog.events.orders import OrderPlaced\n"
            "from sagalog.store import open_store\n"
            "with open_store(sys.argv[1]) as store:\n"
            "    store.append('order-x', [OrderPlaced(order_id='x', product_id='p',\n"
            "                 amount_cents=1, address=sys.argv[2])], correlation_id='x')\n"
            "    store.append('order-y', [OrderPlaced(order_id='y', product_id='p',\n"
            "                 amount_cents=2)], correlation_id='y')\n")
    subprocess.run([sys.executable, "-c", code, "a.db", odd], cwd=tmp_path, check=True)
    exported = cli("export", "--db", "a.db", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "\u2028" in exported.stdout  # written raw: splitting on it would break the line
    (tmp_path / "backup.jsonl").write_text(exported.stdout, encoding="utf-8")
    imported = cli("import", "backup.jsonl", "--db", "b.db", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "imported 2 new records of 2 lines from backup.jsonl\n"
    again = jsonl(cli("export", "--db", "b.db", cwd=tmp_path).stdout)
    assert [json.loads(line)["data"] for line in again] == [
        json.loads(line)["data"] for line in jsonl(exported.stdout)]
    assert json.loads(again[0])["data"]["address"] == odd


def test_a_line_with_nul_or_nested_too_deeply_is_one_error_naming_it(tmp_path: Path) -> None:
    """A NUL, raw or escaped, and 100,000 nested brackets: exit 2, the line, no log made."""
    cli("order", "--db", "a.db", "--count", "2", cwd=tmp_path)
    lines = jsonl(cli("export", "--db", "a.db", cwd=tmp_path).stdout)
    placed = next(number for number, line in enumerate(lines, start=1) if "OrderPlaced" in line)
    for name, change, reason in (
        ("raw", "cust\x00omer", "not JSON (Invalid control character"),
        ("escaped", "cust\\u0000omer", "it contains a NUL character"),
        ("deep", "[" * 100_000 + "]" * 100_000, "nested too deeply to read"),
    ):
        edited = list(lines)
        old = '"customer":"customer"'
        new = f'"customer":"{change}"' if name != "deep" else f'"customer":{change}'
        edited[placed - 1] = edited[placed - 1].replace(old, new)
        (tmp_path / f"{name}.jsonl").write_text("\n".join(edited) + "\n", encoding="utf-8")
        result = cli("import", f"{name}.jsonl", "--db", f"{name}.db", cwd=tmp_path)
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.startswith(f"sagalog: error: {name}.jsonl: line {placed}: "), name
        assert reason in result.stderr, name
        assert result.stderr.count("\n") == 1, name
        assert not (tmp_path / f"{name}.db").exists(), name


def has_events_table(db: Path) -> bool:
    """Whether the log's schema is written (the file exists from SQLite's first byte on)."""
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as raw:
            return raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone() \
                is not None
    except sqlite3.Error:
        return False


def writing_to(fifo: Path, reader: subprocess.Popen[str]) -> BinaryIO:
    """``fifo`` opened for writing once ``reader`` opens it (failing if it exits first)."""
    while True:
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:  # ENXIO: nobody reads it yet
                raise
            assert reader.poll() is None, reader.communicate()
            continue
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "wb")


def reading(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux's /proc)."""
    def target(descriptor: Path) -> str:
        with contextlib.suppress(FileNotFoundError):  # closed since it was listed
            return str(descriptor.readlink())
        return ""

    with contextlib.suppress(FileNotFoundError):  # the process is gone
        return any(target(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    return False


def test_an_import_interrupted_while_appending_leaves_the_log_empty(tmp_path: Path) -> None:
    """Ctrl-C during the second pass: exit 130, and the transaction is rolled back.

    The file is a FIFO the test writes: the first pass gets it whole; the second gets all
    but its last line and then waits, so the import is mid-transaction, and cannot finish,
    when the signal lands (no race with a fast machine).
    """
    code = ("import sys\n"
            "from sagalog.events.orders import OrderPlaced\n"
            "from sagalog.store import AppendRequest, open_store\n"
            "with open_store(sys.argv[1], durability='off') as store:\n"
            "    store.append_all([AppendRequest(f'order-{n}', [OrderPlaced(order_id=str(n),\n"
            "                      product_id='p', amount_cents=n)], correlation_id=str(n))\n"
            "                      for n in range(20_000)])\n")
    subprocess.run([sys.executable, "-c", code, "a.db"], cwd=tmp_path, check=True)
    exported = subprocess.run([sys.executable, RUN, "-q", "export", "--db", "a.db"], cwd=tmp_path,
                              capture_output=True, check=True).stdout
    head, last = exported[:-1].rsplit(b"\n", 1)
    fifo = tmp_path / "a.jsonl"
    os.mkfifo(fifo)
    importing = subprocess.Popen([sys.executable, RUN, "-q", "import", "a.jsonl", "--db", "b.db"],
                                 cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
    with writing_to(fifo, importing) as first_pass:
        first_pass.write(exported)
    while reading(importing.pid, fifo):  # else the second write could join the first pass
        assert importing.poll() is None, importing.communicate()
    with writing_to(fifo, importing) as second_pass:
        second_pass.write(head + b"\n")  # returns once the import has read all but a pipeful
        second_pass.flush()
        assert has_events_table(tmp_path / "b.db")  # the log is open, the transaction too
        importing.send_signal(signal.SIGINT)
        out, err = importing.communicate(timeout=60)
    assert importing.returncode == 130, out + err
    assert err == "sagalog: interrupted\n"
    assert last  # the line it never got
    with contextlib.closing(sqlite3.connect(tmp_path / "b.db")) as raw:
        assert raw.execute("SELECT count(*) FROM events").fetchone() == (0,)
