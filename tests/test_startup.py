"""Start-up: ``--help`` and ``list`` load neither pydantic nor loguru.

A read-only command is over in a fraction of a second, and importing pydantic (about
0.13 s) and loguru (about 0.11 s) was most of it. The commands that need them import them
when they run; these tests hold ``--help``, ``--version`` and ``list`` clear of both, in a
fresh interpreter that runs the command line as the ``sagalog`` script does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sagalog.store import open_store
from tests.support import Deposited

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pydantic", "loguru")

PROBE = f"""
import json, sys
from sagalog.cli import main
try:
    code = main(sys.argv[1:], program=True)
except SystemExit as exit:  # --help and --version exit from the parser
    code = exit.code
loaded = [name for name in {HEAVY!r} if name in sys.modules]
print(json.dumps({{"code": code, "loaded": loaded}}), file=sys.stderr)
"""


def probe(*arguments: str) -> dict[str, object]:
    """Run the command line in a fresh interpreter; its exit code and the heavy modules loaded."""
    result = subprocess.run([sys.executable, "-c", PROBE, *arguments], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.stdout, result.stderr
    report: dict[str, object] = json.loads(result.stderr.splitlines()[-1])
    return report


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("startup") / "log.db"
    with open_store(path) as store:
        store.append("acct", [Deposited(account="a", amount=1)], correlation_id="run-1")
    return path


@pytest.mark.parametrize("arguments", [["--help"], ["--version"], ["list", "--help"],
                                       ["list", "--db", "LOG"],
                                       ["list", "--format", "json", "--db", "LOG"]])
def test_help_and_list_load_neither_pydantic_nor_loguru(log: Path, arguments: list[str]) -> None:
    report = probe(*[str(log) if part == "LOG" else part for part in arguments])
    assert report["code"] in (0, None)
    assert report["loaded"] == []


def test_a_command_that_logs_loads_loguru_so_the_probe_would_see_it(log: Path) -> None:
    """``verify`` logs, so it sets up its sink: a probe that saw nothing could not fail."""
    report = probe("verify", "--db", str(log))
    assert report["code"] == 0
    assert "loguru" in report["loaded"]  # type: ignore[operator]
