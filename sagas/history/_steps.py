"""A run's steps, failures and compensations, as the HTML report draws them.

A step is a command record and its answer: the first record the command caused, written
by the actor that handled it. Whether a step failed or undid earlier work is read off
the log, helped by the saga's definition when it is known:

- failed: the answer is one of a step's ``failed`` or ``compensation_failed`` types, a
  ``HandlerFailed`` dead letter, any type named ``...Failed`` / ``...TimedOut``, or a
  result whose ``status`` (or ``overall_status``) says ``failed``: the data pipeline's
  collector answers ``CollectorFinished`` whatever happened, because the saga's gate reads
  the status to decide phase 2, so for the saga the step succeeded but the work failed;
- a compensation: a saga decision with rule ``compensate`` issued the command, the
  answer is one of a step's ``compensated`` / ``compensation_failed`` types, or the
  command has the type of one of those (a retried undo is issued under rule ``retry``).

Actor deaths are not part of any run (``ActorDied`` goes to the runtime's stream
without a correlation id), so :func:`actor_deaths` finds those of the run's actors
while the run was in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from sagalog.actors import RUNTIME_STREAM
from sagalog.events import Command
from sagalog.events.runtime import ActorDied, HandlerFailed

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sagalog.events import Envelope, Message
    from sagalog.sagas._definition import SagaDefinition
    from sagalog.sagas.history._timeline import Entry, Timeline
    from sagalog.store import LogReaderProtocol

__all__ = ["Step", "actor_deaths", "errors_of", "is_failure", "steps_of"]

_FAILURE_SUFFIXES = ("Failed", "TimedOut")
_FAILED_STATUSES = frozenset({"failed", "failure", "error"})
MAX_DEATHS = 50
"""The most actor deaths one report lists."""


@dataclass(frozen=True)
class Step:
    """One command of a run and what answered it."""

    command: Entry
    answer: Entry | None
    """The first record the command caused (None while unanswered)."""
    failed: bool
    compensation: bool

    @property
    def actor(self) -> str:
        """The row it is drawn on: who answered, or ``no answer``."""
        return self.answer.actor if self.answer else "no answer"

    @property
    def kind(self) -> str:
        """``ok``, ``failed``, ``compensation``, ``compensation-failed`` or ``unanswered``."""
        if self.answer is None:
            return "unanswered"
        if self.compensation:
            return "compensation-failed" if self.failed else "compensation"
        return "failed" if self.failed else "ok"


def _failure_types(definition: SagaDefinition | None) -> set[str]:
    if definition is None:
        return set()
    names: set[str] = set()
    for step in definition.steps_by_name.values():
        names.update(kind.message_type for kind in step.failed)
        names.update(kind.message_type for kind in getattr(step, "compensation_failed", ()))
    return names


def _compensation_answers(definition: SagaDefinition | None) -> set[str]:
    if definition is None:
        return set()
    names: set[str] = set()
    for step in definition.steps_by_name.values():
        for kind in (*getattr(step, "compensated", ()), *getattr(step, "compensation_failed", ())):
            names.add(kind.message_type)
    return names


def is_failure(entry: Entry, definition: SagaDefinition | None = None) -> bool:
    """Whether ``entry`` reports a failure (see the module docstring)."""
    return _failed(entry, _failure_types(definition))


def _failed(entry: Entry, failure_types: set[str]) -> bool:
    kind = entry.record.type
    return (isinstance(entry.record.data, HandlerFailed) or kind.endswith(_FAILURE_SUFFIXES)
            or kind in failure_types or _reports_failure(entry.record.data))


def _reports_failure(data: Message) -> bool:
    """Whether a result's own status field says it failed."""
    return any(str(getattr(data, field, "")).lower() in _FAILED_STATUSES
               for field in ("status", "overall_status"))


def _issued_by_compensate(timeline: Timeline) -> set[int]:
    """Positions of the commands that a ``compensate`` decision issued."""
    by_cause: dict[int, list[Entry]] = {}
    for entry in timeline.entries:
        if entry.cause is not None:
            by_cause.setdefault(entry.cause, []).append(entry)
    issued: set[int] = set()
    for entry in timeline.entries:
        decision = entry.decision
        if decision is None or decision.rule != "compensate":
            continue
        siblings = [other for other in by_cause.get(decision.trigger_position, [])
                    if other.actor == entry.actor and other.record.type in decision.commands
                    and other.record.position > entry.record.position]
        issued.update(other.record.position for other in siblings[: len(decision.commands)])
    return issued


def steps_of(timeline: Timeline, definition: SagaDefinition | None = None) -> list[Step]:
    """Every command of the run with its answer, in log order."""
    answers: dict[int, Entry] = {}
    for entry in timeline.entries:
        if entry.cause is not None and entry.decision is None:
            answers.setdefault(entry.cause, entry)
    failures = _failure_types(definition)
    undone = _compensation_answers(definition)
    by_decision = _issued_by_compensate(timeline)
    commands = [entry for entry in timeline.entries if isinstance(entry.record.data, Command)]
    undo_types: set[str] = set()
    for entry in commands:
        answer = answers.get(entry.record.position)
        if entry.record.position in by_decision or (answer and answer.record.type in undone):
            undo_types.add(entry.record.type)
    steps = []
    for entry in commands:
        answer = answers.get(entry.record.position)
        failed = answer is not None and _failed(answer, failures)
        compensation = (entry.record.position in by_decision or entry.record.type in undo_types
                        or getattr(entry.record.data, "compensation", False) is True)
        steps.append(Step(entry, answer, failed=failed, compensation=compensation))
    return steps


def errors_of(timeline: Timeline, definition: SagaDefinition | None = None) -> list[Entry]:
    """The run's failure records (dead letters, ``...Failed`` events), in log order."""
    failures = _failure_types(definition)
    return [entry for entry in timeline.entries
            if entry.decision is None and _failed(entry, failures)]


def actor_deaths(store: LogReaderProtocol, timeline: Timeline) -> list[Envelope[Message]]:
    """``ActorDied`` records of the run's actors between its first and last record.

    An unfinished run (a command still unanswered) may be stuck because the actor that
    should answer died, and that actor need not appear in the run yet: then every death
    from the run's start on counts. At most :data:`MAX_DEATHS` are returned. The
    runtime's stream holds only deaths, so reading it costs their number.
    """
    first, last = timeline.entries[0].record.position, timeline.entries[-1].record.position
    actors = {entry.actor for entry in timeline.entries}
    waiting = any(step.answer is None for step in steps_of(timeline))
    deaths: Iterable[Envelope[Message]] = (
        record for record in store.read_stream(RUNTIME_STREAM)
        if isinstance(record.data, ActorDied) and record.position >= first
        and (waiting or (record.data.actor in actors and record.position <= last)))
    return list(islice(deaths, MAX_DEATHS))
