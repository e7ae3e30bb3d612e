"""A log holding hostile text: every command prints it escaped, never raw (issue #9).

Anything appended from outside (a job file's name, an HTTP server's ETag, an order's
fields) reaches the reader's terminal through the history tools. An ESC sequence there
clears or retitles the terminal, a CR overwrites the line before it, a bidi override
reorders what follows. The log below holds such text in every field a command prints;
each command runs as a real process, and its stdout and stderr must hold none of it raw.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sagalog.events.etl import ManifestRecorded
from sagalog.events.orders import OrderPlaced
from sagalog.events.sagas import SagaDecided
from sagalog.sagas._definition import SagaDefinition, Stage, Step
from sagalog.sagas.history import mermaid_flowchart
from sagalog.store import open_store
from tests.support import log_bytes

RUN = Path(__file__).resolve().parents[1] / "run.py"

HOSTILE = ("ESC\x1b[2J\x1b]0;owned\x07 CR\rfake\nline NUL-free\x08\x0b\x0c C1\x9b31m DEL\x7f "
           "bidi\u202eexe.txt\u2066\u2069 sep\u2028\u2029 100%%{init}%% <b>x</b>; #tab\tok")
"""Controls of every kind, bidi overrides, line separators, and Mermaid markup."""
HOSTILE_ID = "run-\u202etxt.exe\u2066x\u2028y"
"""Ids refuse C0 and C1 controls (the store checks), but not bidi marks or separators."""
RAW = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
"""What must never reach a terminal raw (a newline is allowed between lines)."""


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real log: an order, a saga decision and an ETL manifest record, all hostile."""
    path = tmp_path_factory.mktemp("hostile") / "log.db"
    with open_store(path) as store:
        (placed,) = store.append(HOSTILE_ID, [OrderPlaced(
            order_id=HOSTILE, product_id=HOSTILE, amount_cents=1, customer=HOSTILE,
            address=HOSTILE)], correlation_id=HOSTILE_ID)
        store.append(HOSTILE_ID, [SagaDecided(
            saga="order", saga_id=HOSTILE, rule=HOSTILE, reason=HOSTILE, trigger_type=HOSTILE,
            trigger_position=1, trigger_event_id=str(placed.event_id), commands=[HOSTILE])],
            correlation_id=HOSTILE_ID, causation_id=placed.event_id)
        store.append(f"etl-{HOSTILE_ID}", [ManifestRecorded(
            source_id=HOSTILE, run_id=HOSTILE, url=HOSTILE, etag=HOSTILE, sha256=HOSTILE,
            size=1, file_path=HOSTILE, format="csv")], correlation_id=HOSTILE_ID)
    return path


def sagalog(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), *arguments], capture_output=True,
                          text=True, timeout=60, check=False)


COMMANDS = [
    ("timeline", HOSTILE_ID),
    ("timeline", HOSTILE_ID, "--format", "mermaid"),
    ("timeline", HOSTILE_ID, "--format", "json"),
    ("explain", HOSTILE_ID),
    ("explain", HOSTILE_ID, "--format", "json"),
    ("show", "2"),
    ("show", "2", "--format", "json"),
    ("tail", "--from", "1", "--count", "3", "--idle-exit", "30"),
    ("etl", "--manifest"),
    ("list",),
    ("list", "--format", "json"),
    ("timeline", f"nope-{HOSTILE}"),  # an error naming the hostile id it was given
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:1] + c[2:]))
def test_no_raw_control_character_reaches_the_terminal(log: Path, command: tuple[str, ...]
                                                       ) -> None:
    """Each command prints the hostile fields escaped: visible, and inert."""
    before = log_bytes(log)
    done = sagalog(*command, "--db", str(log))
    assert "Traceback" not in done.stderr
    for name, stream in (("stdout", done.stdout), ("stderr", done.stderr)):
        found = RAW.search(stream.replace("\n", ""))
        assert found is None, f"{name} holds {found.group()!r}: {stream!r}"
    shown = done.stdout + done.stderr
    assert "\\x1b" in shown or "\\u202e" in shown  # the text is there, escaped
    if "json" in command:
        assert "\\u001b" in done.stdout or "\\u202e" in done.stdout
        json.loads(done.stdout)  # still one JSON document, holding the same text
    assert log_bytes(log) == before


def test_json_output_decodes_to_the_text_as_recorded(log: Path) -> None:
    """Escaping for the terminal loses nothing: --format json decodes to the stored text."""
    shown = json.loads(sagalog("show", "1", "--format", "json", "--db", str(log)).stdout)
    assert shown["record"]["data"]["customer"] == HOSTILE
    assert shown["record"]["stream_id"] == HOSTILE_ID


def test_error_line_is_one_line_escaped(tmp_path: Path) -> None:
    """An error quoting what the user typed (here a log's path) stays one line, nothing raw."""
    missing = tmp_path / f"x\n{HOSTILE}.db"
    done = sagalog("list", "--db", str(missing))
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("sagalog: error: ")
    assert line.endswith(": no such log")
    assert "\\x1b[2J" in line
    assert RAW.search(line) is None


def test_mermaid_timeline_carries_no_directive_comment_or_html(log: Path) -> None:
    """A label cannot open a %% comment or directive, a tag, or a new statement."""
    text = sagalog("timeline", HOSTILE_ID, "--format", "mermaid", "--db", str(log)).stdout
    body = text.splitlines()
    assert body[0] == "sequenceDiagram"
    for line in body[1:]:
        assert line.startswith("    ")
        assert "%%" not in line
        assert "<" not in line.replace("->>", "").replace("-->>", "")
        assert ";" not in line.replace("#59;", "").replace("#37;", "").replace(
            "#lt;", "").replace("#gt;", "").replace("#35;", "").replace("#quot;", "")
    assert "#37;#37;{init}#37;#37;" in text


def _step_command(_start: object) -> OrderPlaced:
    return OrderPlaced(order_id="o", product_id="p", amount_cents=1)


def test_graph_labels_escape_hostile_step_and_stage_names() -> None:
    """A saga whose names come from a config is drawn with every label escaped."""
    name = HOSTILE.replace("[", "(")  # a step name may not hold "[" (ForEach items use it)
    step = Step(name, command=_step_command, succeeded=(SagaDecided,),
                failed=(ManifestRecorded,))
    definition = SagaDefinition(
        name=HOSTILE, start=OrderPlaced, saga_id=lambda _start: "x",
        stream=lambda _start: "s", stages=(Stage((step,), name=HOSTILE),),
        completed=lambda _start, _results: SagaDecided(
            saga="x", saga_id="x", rule="x", reason="x", trigger_type="x",
            trigger_position=1, trigger_event_id=str(uuid.uuid4()), commands=[]),
        failed=lambda _start, _reason, _undone: SagaDecided(
            saga="x", saga_id="x", rule="x", reason="x", trigger_type="x",
            trigger_position=1, trigger_event_id=str(uuid.uuid4()), commands=[]))
    text, warnings = mermaid_flowchart(definition)
    assert warnings
    assert RAW.search(text.replace("\n", "")) is None
    for line in text.splitlines():
        if line.lstrip().startswith("%%"):
            continue  # the chart's own comments: escaped, and a comment ends at the line
        assert "%%" not in line
        assert "<b>" not in line
    assert "\\x1b(2J" in text  # the names are there, escaped
    assert "#lt;b#gt;x#lt;/b#gt;" in text
    assert "<br/>" in text  # the chart's own line breaks stay markup
