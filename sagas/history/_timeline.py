"""One saga or run in order across all its actors and streams, for people and tools.

A timeline is read through the correlation index, so it costs the size of the run,
not of the log. Each entry says when, which actor wrote it (recovered from the event
id, see :mod:`._producers`), what it was, what caused it, and for a decision its rule
and reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sagalog.events import mermaid_text, printable, printable_json
from sagalog.events.sagas import SagaDecided
from sagalog.sagas.history._errors import UnknownRunError
from sagalog.sagas.history._producers import EXTERNAL, producers

if TYPE_CHECKING:
    from datetime import datetime

    from sagalog.events import Envelope, Message
    from sagalog.store import LogReaderProtocol

__all__ = ["Entry", "Timeline", "read_timeline"]

_SUMMARY_WIDTH = 70


@dataclass(frozen=True)
class Entry:
    """One record of a run, as the timeline shows it."""

    record: Envelope[Message]
    actor: str
    """Who wrote it: an actor's name, ``timers``, or ``external``."""
    cause: int | None
    """Position of the record that caused it, if it is in the run."""

    @property
    def decision(self) -> SagaDecided | None:
        """The saga decision this record is, if it is one."""
        data = self.record.data
        return data if isinstance(data, SagaDecided) else None

    def summary(self) -> str:
        """The record's data in one short line."""
        decision = self.decision
        if decision is not None:
            return printable(f"[{decision.rule}] {decision.reason}")
        fields = self.record.data.model_dump(mode="json")
        text = printable(", ".join(f"{key}={_short(value)}" for key, value in fields.items()))
        return text if len(text) <= _SUMMARY_WIDTH else text[: _SUMMARY_WIDTH - 1] + "…"

    def to_dict(self) -> dict[str, Any]:
        """The entry for tools (``--format json``)."""
        decision = self.decision
        return {
            "position": self.record.position,
            "recorded_at": self.record.recorded_at.isoformat(),
            "actor": self.actor,
            "stream_id": self.record.stream_id,
            "type": self.record.type,
            "caused_by": self.cause,
            "rule": decision.rule if decision else None,
            "reason": decision.reason if decision else None,
            "data": self.record.data.model_dump(mode="json"),
        }


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:23] + "…"


@dataclass(frozen=True)
class Timeline:
    """Every record of one saga or run, in log order."""

    run_id: str
    entries: list[Entry]

    @property
    def started(self) -> datetime:
        """When its first record was written."""
        return self.entries[0].record.recorded_at

    @property
    def ended(self) -> datetime:
        """When its last record was written."""
        return self.entries[-1].record.recorded_at

    def text(self) -> str:
        """A readable table: offset from the start, position, actor, message, reason."""
        actors = [printable(entry.actor) for entry in self.entries]
        width = max(len(actor) for actor in actors)
        lines = [(f"run {printable(self.run_id)}: {len(self.entries)} records, "
                 f"{self.started.isoformat(timespec='milliseconds')} to "
                 f"{self.ended.isoformat(timespec='milliseconds')}")]
        for entry, actor in zip(self.entries, actors, strict=True):
            offset = (entry.record.recorded_at - self.started).total_seconds()
            cause = f" <- {entry.cause}" if entry.cause else ""
            lines.append(f"  +{offset:8.3f}s  {entry.record.position:>8}  {actor:<{width}}  "
                         f"{printable(entry.record.type)}{cause}: {entry.summary()}")
        return "\n".join(lines)

    def json(self) -> str:
        """The timeline as one JSON document."""
        return printable_json(json.dumps(
            {"run_id": self.run_id, "entries": [entry.to_dict() for entry in self.entries]},
            ensure_ascii=False, indent=1))

    def mermaid(self) -> str:
        """A Mermaid sequence diagram: actors write to streams (queues), actors consume.

        An arrow from an actor to a stream is a record written; an arrow from a stream to
        an actor is that actor consuming the record (it wrote something caused by it).
        Decisions are notes over the saga that made them.
        """
        consumers: dict[int, list[str]] = {}
        for entry in self.entries:
            if entry.cause is not None and entry.actor not in consumers.get(entry.cause, []):
                consumers.setdefault(entry.cause, []).append(entry.actor)
        names: dict[str, str] = {}

        def alias(name: str) -> str:
            return names.setdefault(name, f"p{len(names)}")

        body: list[str] = []
        for entry in self.entries:
            actor, stream = alias(entry.actor), alias(entry.record.stream_id)
            decision = entry.decision
            if decision is not None:
                body.append(f"    Note over {actor}: {mermaid_text(decision.rule)}: "
                            f"{mermaid_text(decision.reason)}")
                continue
            body.append(f"    {actor}->>{stream}: {entry.record.position} "
                        f"{mermaid_text(entry.record.type)}")
            body.extend(f"    {stream}-->>{alias(consumer)}: consume"
                        for consumer in consumers.get(entry.record.position, []))
        head = ["sequenceDiagram"]
        streams = {entry.record.stream_id for entry in self.entries}
        for name, key in names.items():
            kind = "actor" if name == EXTERNAL and name not in streams else "participant"
            head.append(f"    {kind} {key} as {mermaid_text(name)}")
        return "\n".join(head + body)


def read_timeline(store: LogReaderProtocol, run_id: str) -> Timeline:
    """The timeline of ``run_id`` (a correlation id).

    Raises:
        UnknownRunError: no record has that correlation id.

    """
    records = list(store.read_correlation(run_id))
    if not records:
        raise UnknownRunError(run_id)
    actors = producers(records, store.checkpoints())
    positions = {record.event_id: record.position for record in records}
    entries = [
        Entry(record, actor, positions.get(record.causation_id) if record.causation_id else None)
        for record, actor in zip(records, actors, strict=True)
    ]
    return Timeline(run_id, entries)
