"""Each decision of a run in words, with the records it rested on and what it caused.

The saga's recorded decisions already say why ("undo payment because inventory
failed: InventoryFailed at 809"); this adds what each decision issued and what came of
it (the command's position and the result it got), and, when the saga's definition is
known, the steps that never started, so a reader sees the work that did NOT happen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagalog.events import Command
from sagalog.sagas._state import SagaState, decide

if TYPE_CHECKING:
    from sagalog.sagas._definition import SagaDefinition
    from sagalog.sagas.history._timeline import Entry, Timeline

__all__ = ["explain"]


def explain(timeline: Timeline, definition: SagaDefinition | None = None) -> str:
    """The run's decisions in words, one paragraph per decision."""
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
    title = f"{definition.name} {timeline.run_id}" if definition else f"run {timeline.run_id}"
    status = state.status if state else _status_from(decisions)
    lines = [f"{title}: {status}" + (f" ({state.reason})" if state and state.reason else "")]
    if not decisions:
        lines.append("  no saga decisions recorded for this run")
    for entry in decisions:
        decision = entry.decision
        assert decision is not None  # noqa: S101 - filtered above
        lines.append(f"  pos {entry.record.position}: {decision.reason}")
        trigger = positions.get(decision.trigger_event_id, decision.trigger_position)
        issued = [other for other in by_cause.get(trigger, [])
                  if other.actor == entry.actor and other.record.type in decision.commands
                  and other.record.position > entry.record.position]
        for command in issued[: len(decision.commands)]:
            results = by_cause.get(command.record.position, [])
            answer = ", ".join(f"{r.record.type} (pos {r.record.position}, {r.actor})"
                               for r in results if r.decision is None)
            waits = isinstance(command.record.data, Command)
            lines.append(f"      -> {command.record.type} (pos {command.record.position})"
                         + (f" -> {answer}" if answer else
                            " -> no answer recorded" if waits else ""))
    if state is not None:
        lines += _never_started(state, definition)  # type: ignore[arg-type]
    return "\n".join(lines)


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


def _never_started(state: SagaState, definition: SagaDefinition) -> list[str]:
    lines = []
    for name, step in definition.steps_by_name.items():
        own = state.steps.get(name)
        if own is None or own.status != "pending":
            continue
        undo = getattr(step, "compensation", None)
        tail = ", so there was nothing to undo" if undo is not None and state.status in (
            "failed", "compensating") else ""
        lines.append(f"  {name} was never started{tail}")
    return lines
