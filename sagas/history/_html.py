"""One run as a self-contained HTML page: a Gantt chart of its steps, its decisions, its errors.

The page needs nothing but itself: the chart is inline SVG drawn here, the style and
the one small script are inline, and a Content-Security-Policy allows only those two
(by hash), so even a mistake cannot make the page fetch anything when it is opened.
Every text that comes from the log passes through :func:`html.escape`: a reason or a
field may hold ``<script>``, and here it stays text.

Hazard: runs often take a few milliseconds, so bars have a minimum width and carry
their positions as labels; bars that would touch on one actor's row go to a lane below.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from sagalog.events import SagalogError
from sagalog.events.runtime import ActorDied, HandlerFailed
from sagalog.sagas.history._explain import _status_from
from sagalog.sagas.history._steps import Step, errors_of, steps_of

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sagalog.events import Envelope, Message
    from sagalog.sagas._definition import SagaDefinition
    from sagalog.sagas.history._timeline import Entry, Timeline

__all__ = ["render_html", "write_report"]

GUTTER = 180
"""Pixels left of the plot for the actors' names."""
PLOT = 780
"""Pixels of the time axis."""
LABEL_ROOM = 70
"""Pixels kept free right of the last moment, for the last bar's label."""
MIN_BAR = 8
"""The narrowest bar: a step of 0.1 ms in a 2 s run is still a bar you can point at."""
LANE = 22
AXIS = 30
_CHAR = 6.5  # average width of a label character at 11px

_FILL = {"ok": "#4a7fd4", "failed": "#d64545", "compensation": "url(#undo)",
         "compensation-failed": "url(#undo-failed)", "unanswered": "#ffffff"}
_LEGEND = (("ok", "step answered"), ("failed", "step failed"),
           ("compensation", "compensation (undo)"),
           ("compensation-failed", "compensation failed"),
           ("unanswered", "no answer recorded"), ("decision", "saga decision"))

_STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px;
       color: #1d2330; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #556; margin: 0 0 12px; }
.status-failed, .status-manual_review { color: #b3261e; font-weight: 600; }
.status-completed { color: #1b7f3b; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e6ee;
         vertical-align: top; }
th { background: #f4f6fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num, td.at { white-space: nowrap; }
tr.picked td { background: #fff4c2; }
tr.kind-failed td, tr.kind-compensation-failed td { color: #b3261e; }
pre { background: #f7f7f9; border: 1px solid #e3e6ee; padding: 8px; overflow-x: auto;
      font-size: 12px; white-space: pre-wrap; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2330; }
svg .axis text { fill: #667; } svg .step, svg .decision { cursor: pointer; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 8px 0; font-size: 13px; }
.legend svg { vertical-align: middle; margin-right: 4px; }
.error { border-left: 4px solid #d64545; padding: 2px 12px; margin: 12px 0; }
.note { color: #667; font-size: 12px; }
svg.defs { position: absolute; }
"""

_SCRIPT = """
(function () {
  "use strict";
  var drawn = document.querySelectorAll("#chart [data-step]");
  function pick(id) {
    document.querySelectorAll("tr.picked").forEach(function (row) {
      row.classList.remove("picked");
    });
    var row = document.getElementById(id);
    if (row) { row.classList.add("picked"); row.scrollIntoView({block: "center"}); }
  }
  drawn.forEach(function (bar) {
    bar.addEventListener("click", function () { pick("step-" + bar.dataset.step); });
  });
  document.querySelectorAll("#chart [data-decision]").forEach(function (mark) {
    mark.addEventListener("click", function () {
      pick("decision-" + mark.dataset.decision);
    });
  });
  var note = document.getElementById("chart-note");
  note.textContent = drawn.length + " steps drawn; click a bar or a diamond " +
    "to find its row in the tables below.";
  document.body.dataset.ready = String(drawn.length);
}());
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _esc(value: object) -> str:
    return escape(str(value), quote=True)


def render_html(
    timeline: Timeline,
    definition: SagaDefinition | None = None,
    deaths: Sequence[Envelope[Message]] = (),
) -> str:
    """The report page of ``timeline``.

    Args:
        timeline: the run, as :func:`read_timeline` reads it.
        definition: its saga's definition, if known: names the saga and the step types
            that mean failure and undoing.
        deaths: ``ActorDied`` records to list with the errors (see :func:`actor_deaths`).

    """
    steps = steps_of(timeline, definition)
    decisions = [entry for entry in timeline.entries if entry.decision is not None]
    status = _status_from(decisions) if decisions else "recorded"
    title = f"{definition.name} {timeline.run_id}" if definition else f"run {timeline.run_id}"
    csp = (f"default-src 'none'; style-src {_hash(_STYLE)}; script-src {_hash(_SCRIPT)}; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}: sagalog report</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        _meta(timeline, status, len(steps), len(decisions)),
        "<h2>Steps per actor</h2>",
        _legend(),
        _chart(timeline, steps, decisions),
        _NOTE,
        _steps_table(timeline, steps),
        "<h2>Decisions</h2>",
        _decisions_table(timeline, decisions),
        "<h2>Errors</h2>",
        _errors(errors_of(timeline, definition), deaths),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


_NOTE = ('<p class="note" id="chart-note">Each bar runs from a command being recorded to its '
         "answer, on the row of the actor that answered; labels are log positions.</p>")


def _meta(timeline: Timeline, status: str, steps: int, decisions: int) -> str:
    span = (timeline.ended - timeline.started).total_seconds() * 1000
    first, last = timeline.entries[0].record.position, timeline.entries[-1].record.position
    started = timeline.started.isoformat(timespec="milliseconds")
    return (f'<p class="meta">status <span class="status-{_esc(status)}">{_esc(status)}</span>'
            f" · {len(timeline.entries)} records, positions {first} to {last} · started "
            f"{_esc(started)} · took {span:.1f} ms · {steps} steps, {decisions} decisions</p>")


def _swatch(kind: str) -> str:
    if kind == "decision":
        shape = '<path d="M7 1 L13 7 L7 13 L1 7 Z" fill="#6b4fbb"/>'
    else:
        dash = ' stroke-dasharray="3 2"' if kind == "unanswered" else ""
        shape = (f'<rect x="1" y="2" width="26" height="10" fill="{_FILL[kind]}" '
                 f'stroke="#445"{dash}/>')
    return f'<svg width="28" height="14" aria-hidden="true">{shape}</svg>'


def _legend() -> str:
    items = "".join(f'<span data-legend="{kind}">{_swatch(kind)}{text}</span>'
                    for kind, text in _LEGEND)
    # The stripes are defined once, here, and used by the legend and the chart alike.
    return (f'<svg class="defs" width="0" height="0" aria-hidden="true">{_patterns()}</svg>'
            f'<div class="legend">{items}</div>')


def _patterns() -> str:
    """Diagonal stripes: hatched bars are undoing work (red stripes: the undo failed)."""
    return "<defs>" + "".join(
        f'<pattern id="{name}" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{ground}"/>'
        f'<rect width="3" height="6" fill="{stripe}"/></pattern>'
        for name, ground, stripe in (("undo", "#fbe3b0", "#c98a12"),
                                     ("undo-failed", "#f6c9c9", "#d64545"))) + "</defs>"


@dataclass(frozen=True)
class _Item:
    """One thing on a row: a step's bar or a decision's diamond, with its label."""

    x: float
    width: float
    label: str
    draw: Callable[[int], str]
    """The SVG for it, given its lane's top."""

    @property
    def right(self) -> float:
        """Where its label ends."""
        return self.x + self.width + 4 + len(self.label) * _CHAR


def _chart(timeline: Timeline, steps: list[Step], decisions: list[Entry]) -> str:
    span = max((timeline.ended - timeline.started).total_seconds() * 1000, 0.001)
    scale = (PLOT - LABEL_ROOM) / span

    def at(entry: Entry | None) -> float:
        moment = entry.record.recorded_at if entry else timeline.ended
        return GUTTER + (moment - timeline.started).total_seconds() * 1000 * scale

    rows: dict[str, list[_Item]] = {}
    answers = {id(step.answer) for step in steps}
    for entry in timeline.entries:  # rows in order of first appearance in the run
        if entry.decision is not None or id(entry) in answers:
            rows.setdefault(entry.actor, [])
    for step in steps:
        rows.setdefault(step.actor, []).append(_bar(step, at(step.command), at(step.answer)))
    for entry in decisions:
        rows[entry.actor].append(_diamond(entry, at(entry)))
    body, top = [], AXIS
    for index, (actor, items) in enumerate(rows.items()):
        lanes = _pack(items)
        height = max(len(lanes), 1) * LANE + 6
        shade = "#f4f6fa" if index % 2 == 0 else "#ffffff"
        body.append(f'<g class="row" data-actor="{_esc(actor)}">'
                    f'<rect x="0" y="{top}" width="{GUTTER + PLOT}" height="{height}" '
                    f'fill="{shade}"/><text x="8" y="{top + 17}">{_esc(_cut(actor, 26))}'
                    f"<title>{_esc(actor)}</title></text>")
        for lane, placed in enumerate(lanes):
            body.extend(item.draw(top + 4 + lane * LANE) for item in placed)
        body.append("</g>")
        top += height
    return (f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{GUTTER + PLOT}" '
            f'height="{top + 4}" role="img" aria-label="steps per actor over time">'
            f"{''.join(body)}{_axis(span, scale, top)}</svg>")


def _bar(step: Step, start: float, end: float) -> _Item:
    width = max(MIN_BAR, end - start)
    position = step.command.record.position
    command = step.command.record
    if step.answer is None:
        label, answer = f"{position}→?", "no answer recorded"
    else:
        reply = step.answer.record
        took = (reply.recorded_at - command.recorded_at).total_seconds() * 1000
        label = f"{position}→{reply.position}"
        answer = f"{reply.type} (pos {reply.position}) by {step.actor}, {took:.1f} ms"
    tip = (f"{command.type} (pos {position}) → {answer} [{step.kind}]\n{step.command.summary()}"
           + (f"\n{step.answer.summary()}" if step.answer else ""))
    dash = ' stroke-dasharray="3 2"' if step.answer is None else ""

    def draw(top: int) -> str:
        return (f'<g class="step {step.kind}" data-step="{position}" data-kind="{step.kind}" '
                f'data-type="{_esc(command.type)}"><title>{_esc(tip)}</title>'
                f'<rect x="{start:.1f}" y="{top}" width="{width:.1f}" height="{LANE - 6}" '
                f'rx="2" fill="{_FILL[step.kind]}" stroke="#334"{dash}/>'
                f'<text x="{start + width + 3:.1f}" y="{top + 12}">{label}</text></g>')

    return _Item(start, width, label, draw)


def _diamond(entry: Entry, x: float) -> _Item:
    decision = entry.decision
    assert decision is not None  # noqa: S101 - only decisions are passed
    position = entry.record.position
    tip = f"decision at {position} [{decision.rule}]: {decision.reason}"

    def draw(top: int) -> str:
        return (f'<g class="decision" data-decision="{position}" '
                f'data-rule="{_esc(decision.rule)}"><title>{_esc(tip)}</title>'
                f'<path d="M{x:.1f} {top} l8 8 l-8 8 l-8 -8 z" fill="#6b4fbb"/>'
                f'<text x="{x + 10:.1f}" y="{top + 12}">{position}</text></g>')

    return _Item(x - 8, 16, str(position), draw)


def _pack(items: list[_Item]) -> list[list[_Item]]:
    """Items into lanes, so that no two (labels included) overlap in one lane."""
    lanes: list[list[_Item]] = []
    for item in sorted(items, key=lambda item: item.x):
        for lane in lanes:
            if lane[-1].right <= item.x:
                lane.append(item)
                break
        else:
            lanes.append([item])
    return lanes


def _axis(span: float, scale: float, bottom: int) -> str:
    """Ticks and grid lines at a round number of milliseconds (or seconds)."""
    step = next(size for size in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000,
                                  2000, 5000, 10_000, 30_000, 60_000, 300_000, 600_000,
                                  1_800_000, 3_600_000, float("inf"))
                if span / size <= 8)
    if step == float("inf"):
        step = span
    marks = []
    tick = 0.0
    while tick <= span + 1e-9:
        x = GUTTER + tick * scale
        text = f"+{tick / 1000:g} s" if step >= 1000 else f"+{tick:g} ms"
        marks.append(f'<line x1="{x:.1f}" y1="{AXIS - 6}" x2="{x:.1f}" y2="{bottom}" '
                     f'stroke="#d5d9e3"/><text x="{x + 2:.1f}" y="{AXIS - 10}">{text}</text>')
        tick = round(tick + step, 6)
    return f'<g class="axis">{"".join(marks)}</g>'


def _offset(timeline: Timeline, entry: Entry) -> str:
    return f"+{(entry.record.recorded_at - timeline.started).total_seconds() * 1000:.1f} ms"


def _steps_table(timeline: Timeline, steps: list[Step]) -> str:
    rows = []
    for step in steps:
        command, answer = step.command.record, step.answer
        took = (f"{(answer.record.recorded_at - command.recorded_at).total_seconds() * 1000:.1f}"
                " ms" if answer else "")
        rows.append(
            f'<tr id="step-{command.position}" class="kind-{step.kind}">'
            f'<td class="num">{command.position}</td>'
            f'<td class="at">{_offset(timeline, step.command)}</td>'
            f"<td>{_esc(command.type)}</td><td>{_esc(step.actor)}</td>"
            f"<td>{_esc(f'{answer.record.type} (pos {answer.record.position})' if answer else '-')}"
            f'</td><td class="num">{took}</td><td>{step.kind}</td></tr>')
    if not rows:
        return "<p>No commands were issued in this run.</p>"
    return ("<table><thead><tr><th>position</th><th>at</th><th>command</th><th>answered by</th>"
            "<th>answer</th><th>took</th><th>kind</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _decisions_table(timeline: Timeline, decisions: list[Entry]) -> str:
    rows = []
    for entry in decisions:
        decision = entry.decision
        assert decision is not None  # noqa: S101 - only decisions are passed
        rows.append(
            f'<tr id="decision-{entry.record.position}" data-rule="{_esc(decision.rule)}">'
            f'<td class="num">{entry.record.position}</td>'
            f'<td class="at">{_offset(timeline, entry)}</td>'
            f"<td>{_esc(decision.rule)}</td><td>{_esc(decision.reason)}</td>"
            f'<td>{_esc(", ".join(decision.commands) or "-")}</td></tr>')
    if not rows:
        return "<p>No saga decisions were recorded for this run.</p>"
    return ("<table><thead><tr><th>position</th><th>at</th><th>rule</th><th>reason</th>"
            "<th>commands issued</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _errors(failures: list[Entry], deaths: Sequence[Envelope[Message]]) -> str:
    blocks = [_error(entry.record, entry.actor) for entry in failures]
    blocks += [_error(record, "runtime") for record in deaths]
    if not blocks:
        return "<p>No failures, dead letters or actor deaths.</p>"
    return "".join(blocks)


def _error(record: Envelope[Message], actor: str) -> str:
    data = record.data
    head = (f'<div class="error" data-error="{record.position}" data-type="{_esc(record.type)}">'
            f"<p><b>{_esc(record.type)}</b> at position {record.position}, written by "
            f"{_esc(actor)}, {_esc(record.recorded_at.isoformat(timespec='milliseconds'))}</p>")
    if isinstance(data, HandlerFailed):
        body = (f"<p>{_esc(data.actor)} gave up on {_esc(data.input_type)} (position "
                f"{data.input_position}) after {data.attempts} "
                f"{'try' if data.attempts == 1 else 'tries'}: "
                f"<b>{_esc(data.error_type)}</b>: {_esc(data.error_message)}</p>"
                f"<pre>{_esc(data.traceback)}</pre>")
    elif isinstance(data, ActorDied):
        body = (f"<p>actor {_esc(data.actor)} died: <b>{_esc(data.error_type)}</b>: "
                f"{_esc(data.error_message)} (restart {data.restarts})</p>")
    else:
        fields = json.dumps(data.model_dump(mode="json"), indent=2, ensure_ascii=False)
        body = f"<pre>{_esc(fields)}</pre>"
    return head + body + "</div>"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def write_report(path: str | Path, page: str) -> Path:
    """Write ``page`` to ``path`` whole or not at all (a temporary file, then a rename).

    A reader (or a browser reloading the page) never sees half a report, and a failed
    write leaves an earlier report in place.

    Raises:
        SagalogError: the file cannot be written (no such directory, no permission).

    """
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                             dir=target.parent)
    except OSError as error:
        msg = f"{path}: cannot write the report ({error.strerror or error})"
        raise SagalogError(msg) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(page)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).chmod(0o644)
        Path(temporary).replace(target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        msg = f"{path}: cannot write the report ({error.strerror or error})"
        raise SagalogError(msg) from None
    return target
