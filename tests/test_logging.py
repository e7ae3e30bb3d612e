"""Logging: silent and sink-free on import; one call turns it on; lines carry their context."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sagalog.actors import Actor, Runtime, VirtualClock, handles
from sagalog.events import Command, Envelope, Message
from tests.support import on_a_terminal

RUN = str(Path(__file__).resolve().parent.parent / "run.py")


def test_importing_sagalog_adds_no_sink_and_logs_nothing(tmp_path) -> None:
    """A fresh process importing every package has loguru's sinks unchanged and sees no line."""
    script = textwrap.dedent(
        f"""
        import asyncio
        import sys
        from loguru import logger
        logger.remove()
        logger.add(sys.stderr, level="DEBUG")  # the application owns its sinks
        before = len(logger._core.handlers)
        lines = []
        logger.add(lines.append, level="DEBUG")
        import sagalog.events as events, sagalog.store as store
        import sagalog.actors, sagalog.sagas
        assert len(logger._core.handlers) == before + 1, "an import added a sink"
        async def main():
            async with store.AsyncEventStore.open({str(tmp_path / "x.db")!r}):
                pass
        asyncio.run(main())
        assert lines == [], lines
        sys.stderr.flush()
        print("silent", flush=True)
        events.enable_logging()
        asyncio.run(main())
        assert any("store opened" in line for line in lines), lines
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["silent", "ok"]
    assert "store opened" in result.stderr, "enabled, the lines reach the app's sinks"
    assert result.stderr.count("store opened") == 1, "nothing was logged before enable_logging"


class Knock(Command, name="log.Knock"):
    n: int


class Door(Actor):
    @handles(Knock)
    def knock(self, message: Knock, envelope: Envelope[Message]) -> None:
        pass


def test_handler_lines_are_bound_to_actor_correlation_and_position(db_path: str, logs) -> None:
    """Each line about a handled message names its actor, correlation and position."""
    with Runtime(db_path, durability="off", clock=VirtualClock()) as runtime:
        runtime.add(Door)
        runtime.append("door-1", [Knock(n=1)], correlation_id="visit-7")
        assert runtime.wait_until_idle(30)
    handled = [r for r in logs.records if r["message"] == "handled log.Knock"]
    assert len(handled) == 1
    extra = handled[0]["extra"]
    assert (extra["actor"], extra["correlation"], extra["position"]) == ("Door", "visit-7", 1)


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("", True), ("1", False)])
def test_log_lines_on_a_terminal_are_coloured_unless_no_color_is_set(
        tmp_path: Path, no_color: str | None, coloured: bool) -> None:
    """https://no-color.org: NO_COLOR set and not empty turns colour off; empty counts as unset."""
    code, terminal, piped = on_a_terminal([sys.executable, RUN, "order", "--db", "x.db"],
                                          env={"NO_COLOR": no_color}, cwd=tmp_path)
    assert code == 0, terminal
    assert piped.startswith("order o1-1: ")
    assert " INFO    sagalog." in re.sub(r"\x1b\[[0-9;]*m", "", terminal)  # coloured or not
    assert ("\x1b[" in terminal) is coloured
    assert "\x1b[" not in piped
