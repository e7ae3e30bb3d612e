"""``--db ''``: one line saying the path is empty, from reading and writing commands alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUN = str(Path(__file__).resolve().parent.parent / "run.py")


@pytest.mark.parametrize("command", [
    ["list"], ["verify"], ["export"], ["timeline", "o1-1"], ["tail", "--count", "1"],
    ["at", "1"], ["what-if"], ["bundle", "o1-1", "-o", "run.db"], ["import", "empty.jsonl"],
])
def test_an_empty_db_path_is_one_line_and_exit_2(command: list[str], tmp_path: Path) -> None:
    """SQLite would open a temporary database for ''; sagalog refuses it, naming why."""
    (tmp_path / "empty.jsonl").touch()
    result = subprocess.run([sys.executable, RUN, "-q", *command, "--db", ""], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr == "sagalog: error: the log's path is empty; name its file\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty.jsonl"]
