"""The synthetic-stream harness: give a saga definition messages, get back its decisions.

For users' own tests of their sagas: no runtime, no services, no clock. Feed the
definition a list of messages (the start first), recorded envelopes, or a JSON Lines file
in the export format, and look at what it decided and which commands it issued::

    from sagalog.sagas.testing import replay

    run = replay(ORDER_SAGA, [OrderPlaced(...), ProductConfirmed(...), PaymentFailed(...)])
    assert run.rules() == ["start-stage", "start-stage", "compensate", "fail"]
    assert run.command_types() == ["CheckProduct", "ChargePayment", "ReserveInventory",
                                   "ScheduleShipping"]

For tests that need real actors, the pytest plugin :mod:`sagas.pytest_plugin` gives a
runtime on a temporary database with a virtual clock.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from sagalog.actors import Emit, Schedule
from sagalog.events import Command, Envelope, Message, new_event_id, registry
from sagalog.events.sagas import SagaDecided
from sagalog.sagas._definition import SagaDefinition
from sagalog.sagas._state import Decision, SagaState, decide
from sagalog.store import json_lines

__all__ = ["SagaRun", "load_jsonl", "replay"]


@dataclass
class SagaRun:
    """What a saga definition decided on a stream of messages."""

    decisions: list[Decision] = field(default_factory=list)
    """Every decision, in order."""
    issued: list[Message] = field(default_factory=list)
    """Every message the decisions issued (commands, scheduled messages, terminal events),
    in order, without the ``SagaDecided`` records themselves."""
    states: dict[str, SagaState] = field(default_factory=dict)
    """The final state of each saga, by saga id."""

    def rules(self) -> list[str]:
        """The rule of each decision, in order."""
        return [decision.rule for decision in self.decisions]

    def reasons(self) -> list[str]:
        """The reason of each decision, in words."""
        return [decision.reason for decision in self.decisions]

    def commands(self) -> list[Command]:
        """The commands issued, in order."""
        return [message for message in self.issued if isinstance(message, Command)]

    def command_types(self) -> list[str]:
        """The registered names of the commands issued, in order."""
        return [type(command).message_type for command in self.commands()]

    def status(self, saga_id: str | None = None) -> str:
        """The status of one saga (the only one, if there is one)."""
        if saga_id is None:
            (state,) = self.states.values()
            return state.status
        return self.states[saga_id].status


def replay(
    definition: SagaDefinition,
    stream: Iterable[Message | Envelope[Message]] | str | Path,
    *,
    saga_id: str | None = None,
) -> SagaRun:
    """Feed ``stream`` to ``definition`` and collect its decisions.

    Args:
        definition: the saga to run.
        stream: messages (wrapped in envelopes numbered from position 1), recorded
            envelopes, or the path of a JSON Lines export.
        saga_id: the saga bare messages belong to (default: the last one started).

    """
    records = load_jsonl(stream) if isinstance(stream, str | Path) else stream
    run = SagaRun()
    positions = itertools.count(1)
    current = saga_id
    for item in records:
        if isinstance(item, Message):
            if isinstance(item, definition.start):
                current = definition.saga_id(item)
            envelope = _envelope(item, next(positions), current)
        else:
            envelope = item
        data = envelope.data
        key = definition.saga_id(data) if isinstance(data, definition.start) else (
            envelope.correlation_id or current or ""
        )
        state, decisions = decide(definition, run.states.get(key), envelope)
        if state is not None:
            run.states[key] = state
        for decision in decisions:
            run.decisions.append(decision)
            for output in decision.outputs:
                message = output.message if isinstance(output, Emit | Schedule) else output
                if isinstance(message, Message) and not isinstance(message, SagaDecided):
                    run.issued.append(message)
    return run


def load_jsonl(path: str | Path) -> list[Envelope[Message]]:
    """The records of a JSON Lines export, decoded (and upcast) into envelopes."""
    records: list[Envelope[Message]] = []
    for _, line in json_lines(path):  # lines end at "\n" only, as an export writes them
        if line.strip():
            raw = json.loads(line)
            if "kind" in raw:  # a checkpoint line, after the records of a whole export
                continue
            message = registry.decode(raw["type"], raw["version"], json.dumps(raw["data"]),
                                      position=raw.get("position"), stream_id=raw["stream_id"])
            records.append(Envelope(
                raw.get("position", len(records) + 1), raw["stream_id"], raw["stream_version"],
                UUID(raw["event_id"]), raw["type"], raw["version"],
                datetime.fromisoformat(raw["recorded_at"]), raw["correlation_id"],
                None if raw["causation_id"] is None else UUID(raw["causation_id"]), message,
            ))
    return records


def _envelope(message: Message, position: int, saga_id: str | None) -> Envelope[Message]:
    kind = type(message)
    return Envelope(position, f"saga-{saga_id}", position, new_event_id(), kind.message_type,
                    kind.message_version, datetime.now(UTC), saga_id, None, message)
