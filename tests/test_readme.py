"""The README's synopsis runs, so it cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_saga_synopsis_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """The synopsis defines a saga, runs it embedded and tests it with the harness."""
    text = README.read_text()
    block = re.search(r"<!-- synopsis:start -->\n```python\n(.*?)```\n<!-- synopsis:end -->",
                      text, re.DOTALL)
    assert block is not None, "the README lost its synopsis"
    monkeypatch.chdir(tmp_path)
    exec(compile(block.group(1), "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    assert (tmp_path / "trips.db").exists()
    assert "FlightFull at 3" in capsys.readouterr().out
