"""Each decision of a run in words, with the records it rested on and what it caused.

The saga's recorded decisions already say why ("undo payment because inventory
failed: InventoryFailed at 809"); this adds what each decision issued and what came of
it (the command's position and the result it got), and, when the saga's definition is
known, the steps that never started, so a reader sees the work that did NOT happen.
The same :class:`Explanation` is printed in words or as one JSON document.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sagalog.events import Command, printable, printable_json
from sagalog.sagas._state import SagaState, decide

if TYPE_CHECKING:
    from sagalog.sagas._definition import SagaDefinition
    from sagalog.sagas.history._timeline import Entry, Timeline

__all__ = ["Explanation", "explain", "explanation"]


@dataclass(frozen=True)
class Answer:
    """A record that answered a command: its type, position and the actor that wrote it."""

    type: str
    position: int
    actor: str


@dataclass(frozen=True)
class IssuedCommand:
    """A record a decision issued, and the answers it got."""

    type: str
    position: int
    answers: tuple[Answer, ...]
    expects_answer: bool
    """A command waits for an answer; an event a decision emits does not."""


@dataclass(frozen=True)
class ExplainedDecision:
    """One recorded decision: where, its rule and reason, and what it issued."""

    position: int
    rule: str
    reason: str
    commands: tuple[IssuedCommand, ...]


@dataclass(frozen=True)
class NeverStarted:
    """A step of the saga that never started."""

    step: str
    nothing_to_undo: bool
    """The step has a compensation and the saga was undoing: so it had nothing to undo."""


@dataclass(frozen=True)
class Explanation:
    """A run's decisions and what came of them: what ``explain`` prints."""

    run_id: str
    saga: str | None
    """The saga definition's name, when it is known."""
    status: str
    reason: str
    """Why it is undoing or how it ended, as the current definition folds it ("" if none)."""
    decisions: tuple[ExplainedDecision, ...]
    never_started: tuple[NeverStarted, ...]

    def text(self) -> str:
        """The decisions in words, one paragraph per decision."""
        run_id = printable(self.run_id)
        title = f"{self.saga} {run_id}" if self.saga else f"run {run_id}"
        lines = [f"{title}: {self.status}" + (f" ({printable(self.reason)})" if self.reason
                                               else "")]
        if not self.decisions:
            lines.append("  no saga decisions recorded for this run")
        for decision in self.decisions:
            lines.append(f"  pos {decision.position}: {printable(decision.reason)}")
            for command in decision.commands:
                answer = ", ".join(f"{printable(a.type)} (pos {a.position}, {printable(a.actor)})"
                                   for a in command.answers)
                lines.append(f"      -> {printable(command.type)} (pos {command.position})"
                             + (f" -> {answer}" if answer else
                                " -> no answer recorded" if command.expects_answer else ""))
        lines += [f"  {printable(step.step)} was never started"
                  + (", so there was nothing to undo" if step.nothing_to_undo else "")
                  for step in self.never_started]
        return "\n".join(lines)

    def json(self) -> str:
        """One JSON document (``explain --format json``): this dataclass's fields as keys."""
        return printable_json(json.dumps(asdict(self), indent=2, ensure_ascii=False))


def explain(timeline: Timeline, definition: SagaDefinition | None = None) -> str:
    """The run's decisions in words, one paragraph per decision."""
    return explanation(timeline, definition).text()


def explanation(timeline: Timeline, definition: SagaDefinition | None = None) -> Explanation:
    """The run's decisions, what each issued and got back, and the steps never started."""
    by_cause: dict[int, list[Entry]] = {}
    for entry in timeline.entries:
        if entry.cause is not None:
            by_cause.setdefault(entry.cause, []).append(entry)
    decisions = [entry for entry in timeline.entries if entry.decision is not None]
    # A decision names its trigger's position in the log it was made in; a bundle
    # renumbers positions but keeps event ids, so the trigger is found by its id.
    positions = {str(entry.record.event_id): entry.record.position
                 for entry in timeline.entries}
    state = _replayed(timeline, definition) if definition else None
    explained = []
    for entry in decisions:
        decision = entry.decision
        assert decision is not None  # noqa: S101 - filtered above
        trigger = positions.get(decision.trigger_event_id, decision.trigger_position)
        issued = [other for other in by_cause.get(trigger, [])
                  if other.actor == entry.actor and other.record.type in decision.commands
                  and other.record.position > entry.record.position]
        commands = tuple(
            IssuedCommand(command.record.type, command.record.position,
                          tuple(Answer(r.record.type, r.record.position, r.actor)
                                for r in by_cause.get(command.record.position, [])
                                if r.decision is None),
                          isinstance(command.record.data, Command))
            for command in issued[: len(decision.commands)])
        explained.append(ExplainedDecision(entry.record.position, decision.rule,
                                           decision.reason, commands))
    return Explanation(
        timeline.run_id, definition.name if definition else None,
        state.status if state else _status_from(decisions),
        state.reason if state else "", tuple(explained),
        _never_started(state, definition) if state and definition else ())


def _status_from(decisions: list[Entry]) -> str:
    rules = {"complete": "completed", "fail": "failed", "end": "ended",
             "escalate": "manual_review"}
    for entry in reversed(decisions):
        assert entry.decision is not None  # noqa: S101 - only decisions are passed
        if entry.decision.rule in rules:
            return rules[entry.decision.rule]
    return "running"


def _replayed(timeline: Timeline, definition: SagaDefinition) -> SagaState | None:
    """The saga's state after its recorded events, folded by the current definition."""
    state: SagaState | None = None
    wanted = (definition.start, *definition.event_types())
    for entry in timeline.entries:
        if isinstance(entry.record.data, wanted) or entry.record.type in (
            "StepTimedOut", "RetryStep", "HandlerFailed"
        ):
            state, _ = decide(definition, state, entry.record)
    return state


def _never_started(state: SagaState, definition: SagaDefinition) -> tuple[NeverStarted, ...]:
    never = []
    for name, step in definition.steps_by_name.items():
        own = state.steps.get(name)
        if own is None or own.status != "pending":
            continue
        undo = getattr(step, "compensation", None)
        never.append(NeverStarted(name, undo is not None and state.status in (
            "failed", "compensating")))
    return tuple(never)
