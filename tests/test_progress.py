"""Long commands draw a progress bar on a terminal and stay quiet when piped.

The terminal is a real pseudo-terminal (``pty``) given to the command as its stderr.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sagalog.actors import Ledger, Runtime
from sagalog.sagas.orders import FailurePlan, add_order_workflow, place_order
from sagalog.store import open_store
from tests.support import on_a_terminal as terminal

RUN = Path(__file__).resolve().parents[1] / "run.py"


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "log.db"
    with Ledger(f"{path}.ledger") as ledger, Runtime(str(path)) as runtime:
        add_order_workflow(runtime, ledger, FailurePlan())
        for n in range(5):
            place_order(runtime, f"o-{n}")
        runtime.wait_until_idle(timeout=30)
    return path


def on_a_terminal(*arguments: str) -> str:
    """Run a command with stderr on a pseudo-terminal; return what the terminal got."""
    code, drawn, _ = terminal([sys.executable, str(RUN), "-q", *arguments])
    assert code == 0
    return drawn


@pytest.mark.parametrize(("command", "label"), [(["verify"], "verifying"),
                                                 (["export"], "exporting"),
                                                 (["what-if"], "what-if"),
                                                 (["at", "LAST"], "folding")])
def test_a_terminal_gets_a_bar_and_a_pipe_gets_none(log: Path, command: list[str],
                                                    label: str) -> None:
    with open_store(str(log), read_only=True) as store:
        total = store.last_position()
    command = [str(total) if part == "LAST" else part for part in command]
    drawn = on_a_terminal(*command, "--db", str(log))
    assert f"{label} [##############################] {total:,}/{total:,}" in drawn
    piped = subprocess.run([sys.executable, str(RUN), "-q", *command, "--db", str(log)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert piped.returncode == 0
    assert label not in piped.stderr
    assert "[#" not in piped.stderr


def test_import_shows_its_two_passes_on_a_terminal_and_nothing_piped(log: Path,
                                                                      tmp_path: Path) -> None:
    """First the lines checked (a count), then the lines appended (a bar)."""
    exported = subprocess.run([sys.executable, str(RUN), "-q", "export", "--db", str(log)],
                              capture_output=True, text=True, timeout=60, check=True).stdout
    (tmp_path / "log.jsonl").write_text(exported, encoding="utf-8")
    total = exported.count("\n") - exported.count('{"kind":"checkpoint"')  # the records
    drawn = on_a_terminal("import", str(tmp_path / "log.jsonl"), "--db",
                          str(tmp_path / "a.db"))
    assert f"checking {total:,}" in drawn
    assert f"importing [##############################] {total:,}/{total:,}" in drawn
    piped = subprocess.run([sys.executable, str(RUN), "-q", "import",
                            str(tmp_path / "log.jsonl"), "--db", str(tmp_path / "b.db")],
                           capture_output=True, text=True, timeout=60, check=False)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    assert piped.stdout.startswith(f"imported {total} new records of {total} lines from ")
