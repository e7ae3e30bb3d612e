"""``verify`` on a record whose stored text is no longer UTF-8: named, and shown escaped.

sqlite3 refuses such a column with an error that quotes the damaged bytes raw (an ESC
among them reaches the terminal) and names no record. Read as bytes, the record is named
by its position and its bytes near the damage are shown escaped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sagalog.store import open_store
from tests.support import Deposited

RUN = Path(__file__).resolve().parents[2] / "run.py"
MARK = b"MARK-damaged-here"


def damaged_log(path: Path) -> None:
    """Five records; the fourth's data gets an invalid UTF-8 byte and an ESC, in the file."""
    with open_store(path) as store:
        for index in range(5):
            account = MARK.decode() if index == 3 else f"a{index}"
            store.append(f"s{index}", [Deposited(account=account, amount=index)])
    data = path.read_bytes()
    assert data.count(MARK) == 1
    path.write_bytes(data.replace(MARK, b"\xff\x1b[2J" + MARK[5:]))


def sagalog(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "-q", *arguments], capture_output=True,
                          text=True, timeout=60, check=False, errors="surrogateescape")


def test_verify_names_the_position_and_escapes_the_bytes(tmp_path: Path) -> None:
    """Exit 1, the first bad position, the column, and the bytes escaped: nothing raw."""
    db = tmp_path / "log.db"
    damaged_log(db)
    done = sagalog("verify", "--db", str(db))
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("FAILED at position 4: its data is not UTF-8 text (byte ")
    assert "\\xff\\x1b[2Jdamaged-here" in done.stdout
    assert "\x1b" not in done.stdout + done.stderr
    assert "\udcff" not in done.stdout + done.stderr  # no raw byte 0xff either
    report = json.loads(sagalog("verify", "--format", "json", "--db", str(db)).stdout)
    assert (report["ok"], report["first_bad_position"], report["records"]) == (False, 4, 3)


def test_verify_of_sound_text_is_unchanged(tmp_path: Path) -> None:
    """Read as bytes, sound records hash as before: an intact log verifies ok."""
    db = tmp_path / "log.db"
    with open_store(db) as store:
        for index in range(5):
            store.append(f"s{index}", [Deposited(account=f"é{index}\u202e", amount=index)],
                         correlation_id=f"run-\u2066{index}")
    done = sagalog("verify", "--db", str(db))
    assert done.returncode == 0
    assert done.stdout == "ok: 5 records, hash chain intact, quick_check ok\n"
