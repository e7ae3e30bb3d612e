"""What-if: the recorded inputs of every saga fed to the current saga code, decisions compared.

Run it in CI before deploying changed saga code against a production log: every decision
the new code would make differently on the same inputs is a :class:`Difference`. One pass
over the log does it, in position order, reading only the records some saga handles and
the recorded ``SagaDecided``:

- each input is folded as its saga actor folds it (:class:`SagaFold`), and the decisions
  the current code makes on it wait, keyed by (saga, trigger event id);
- each recorded decision names its trigger, and is compared with the new decision in the
  same place (rule, reason, commands, in order). A saga actor decides on its inputs in
  order, so a recorded decision on a trigger means every earlier trigger of that saga is
  complete: those are settled then, and memory holds only what the actors had not yet
  answered (plus the sagas in flight).

Hazard: the log may be live. The fold stops at the position the log had when it began,
and a trigger after its saga actor's checkpoint is not judged: the actor had not decided
on it yet, so "nothing recorded" is not a difference there.

A bundle (``bundle ID -o FILE``) is replayed at its source positions, which its metadata
keeps (:func:`.source_positions`): the decisions it holds name those.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import TYPE_CHECKING

from sagalog.events.sagas import SagaDecided
from sagalog.sagas.history._bundle import source_positions
from sagalog.sagas.history._fold import SagaFold, records_up_to
from sagalog.sagas.history._opening import Log, reading

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Literal

    from sagalog.events import Envelope, Event, Message
    from sagalog.sagas._definition import SagaDefinition
    from sagalog.sagas._state import Decision

__all__ = ["DecisionText", "Difference", "WhatIfPrinter", "WhatIfReport", "what_if"]


@dataclass(frozen=True)
class DecisionText:
    """A decision as the log records it: rule, reason, commands issued by type."""

    rule: str
    reason: str
    commands: tuple[str, ...]

    @classmethod
    def of(cls, decided: SagaDecided) -> DecisionText:
        """The recorded decision ``decided``."""
        return cls(decided.rule, decided.reason, tuple(decided.commands))

    def __str__(self) -> str:
        return f"{self.rule}: {self.reason} -> {', '.join(self.commands) or 'no command'}"

    def to_dict(self) -> dict[str, Any]:
        """``{"rule", "reason", "commands"}``, for tools."""
        return {"rule": self.rule, "reason": self.reason, "commands": list(self.commands)}


@dataclass(frozen=True)
class Difference:
    """One decision the current code makes differently on a recorded trigger.

    ``recorded`` is None for a decision the code makes now that the log does not hold;
    ``new`` is None for a recorded decision the code no longer makes.
    """

    saga: str
    saga_id: str
    trigger_position: int
    trigger_type: str
    recorded: DecisionText | None
    new: DecisionText | None

    def text(self) -> str:
        """Three lines: where, what the log says, what the code says now."""
        return (f"{self.saga} {self.saga_id} on {self.trigger_type} at "
                f"{self.trigger_position}:\n"
                f"  recorded: {self.recorded or '(no such decision)'}\n"
                f"  now:      {self.new or '(no such decision)'}")

    def to_dict(self) -> dict[str, Any]:
        """For tools: ``recorded`` and ``now`` are decisions or None (see the class)."""
        return {"saga": self.saga, "saga_id": self.saga_id,
                "trigger_position": self.trigger_position, "trigger_type": self.trigger_type,
                "recorded": None if self.recorded is None else self.recorded.to_dict(),
                "now": None if self.new is None else self.new.to_dict()}


@dataclass
class WhatIfReport:
    """The differences, and how much was compared (a check that compared nothing says so).

    ``differences`` holds them in position order, unless they were handed to an
    ``on_difference`` callback as they were found (then only ``differing`` counts them).
    """

    differences: list[Difference] = field(default_factory=list)
    differing: int = 0
    """Decisions that would differ, kept or handed on."""
    recorded: int = 0
    """Recorded decisions of the known sagas read."""
    sagas: int = 0
    """Sagas started in the part of the log read."""
    last_position: int = 0
    """The log's last position when the check began; nothing after it was read."""
    unjudged: int = 0
    """Triggers after their saga actor's checkpoint (not decided yet by the actor)."""

    @property
    def ok(self) -> bool:
        """Whether the current code decides exactly as recorded."""
        return not self.differing

    def text(self) -> str:
        """Each difference, then a summary line."""
        lines = [difference.text() for difference in self.differences]
        checked = (f"{self.recorded} recorded decisions of {self.sagas} sagas "
                   f"(positions 1 to {self.last_position})")
        if self.unjudged:
            checked += f"; {self.unjudged} newer triggers not decided by their saga yet"
        if self.ok:
            lines.append(f"no decision would differ: checked {checked}")
        else:
            lines.append(f"{self.differing} decisions would differ: checked {checked}")
        return "\n".join(lines)


    def summary(self, source_range: tuple[int, int] | None = None) -> dict[str, Any]:
        """What was compared, for tools; ``source_range`` is a bundle's source positions."""
        return {"ok": self.ok, "differing": self.differing,
                "recorded_decisions": self.recorded, "sagas": self.sagas,
                "last_position": self.last_position, "unjudged": self.unjudged,
                "source_positions": None if source_range is None else list(source_range)}


class WhatIfPrinter:
    """What ``what-if`` prints, in words or as one JSON document, a difference at a time.

    The JSON document is ``{"differences": [...], "summary": {...}}`` (see
    :meth:`Difference.to_dict` and :meth:`WhatIfReport.summary`), written as the
    differences are found, so memory stays bounded however many there are.
    """

    def __init__(self, format_: Literal["text", "json"], write: Callable[[str], object],
                 source_range: tuple[int, int] | None = None) -> None:
        """Print through ``write`` (given whole lines); ``source_range`` of a bundle."""
        self._json = format_ == "json"
        self._write = write
        self._source_range = source_range
        self._shown = 0
        if source_range is not None and not self._json:
            write(f"a bundle: positions below are the source log's "
                  f"({source_range[0]} to {source_range[1]})\n")

    def difference(self, difference: Difference) -> None:
        """Print one difference."""
        if self._json:
            item = json.dumps(difference.to_dict(), ensure_ascii=False)
            self._write(('{"differences": [\n  ' if not self._shown else ",\n  ") + item)
        else:
            self._write(difference.text() + "\n")
        self._shown += 1

    def finish(self, report: WhatIfReport) -> None:
        """Print the differences the report kept, then its summary."""
        for difference in report.differences:
            self.difference(difference)
        if not self._json:
            self._write(report.text().rsplit("\n", 1)[-1] + "\n")
            return
        summary = json.dumps(report.summary(self._source_range), ensure_ascii=False)
        self._write(('{"differences": [],\n' if not self._shown else "\n],\n")
                    + f' "summary": {summary}}}\n')


@dataclass
class _Trigger:
    """One input's decisions: the new ones, and the recorded ones as they arrive."""

    saga_id: str
    position: int
    type: str
    new: list[DecisionText]
    recorded: list[DecisionText] = field(default_factory=list)


class _Comparison:
    """The pass itself: triggers waiting for their recorded decisions, per saga."""

    def __init__(
        self,
        fold: SagaFold,
        checkpoints: Mapping[str, int],
        on_difference: Callable[[Difference], None] | None,
    ) -> None:
        self.fold = fold
        self.report = WhatIfReport()
        self.on_difference = on_difference
        self.waiting: dict[str, OrderedDict[str, _Trigger]] = {
            name: OrderedDict() for name in fold.definitions}
        self.decided_up_to = {name: checkpoints.get(f"saga:{name}") for name in fold.definitions}

    def feed(self, record: Envelope[Message]) -> None:
        data = record.data
        if isinstance(data, SagaDecided):
            if data.saga in self.waiting:
                self._recorded(data)
            return
        for folded, decisions in self.fold.fold(record):
            if not decisions:
                continue
            if isinstance(data, folded.definition.start):
                self.report.sagas += 1  # (a repeated start decides nothing)
            self.waiting[folded.definition.name][str(record.event_id)] = _Trigger(
                folded.state.saga_id, record.position, record.type,
                [_text(decision) for decision in decisions])

    def _recorded(self, decided: SagaDecided) -> None:
        self.report.recorded += 1
        waiting = self.waiting[decided.saga]
        trigger = waiting.get(decided.trigger_event_id)
        position = trigger.position if trigger is not None else decided.trigger_position
        while waiting:  # the actor has moved past every earlier trigger of this saga
            first = next(iter(waiting.values()))
            if first.position >= position:
                break
            self._settle(decided.saga, waiting.popitem(last=False)[1])
        if trigger is None:
            self._differ(Difference(
                decided.saga, decided.saga_id, decided.trigger_position, decided.trigger_type,
                DecisionText.of(decided), None))
        else:
            trigger.recorded.append(DecisionText.of(decided))

    def finish(self) -> WhatIfReport:
        for saga, waiting in self.waiting.items():
            decided_up_to = self.decided_up_to[saga]
            for trigger in waiting.values():
                if decided_up_to is not None and trigger.position > decided_up_to \
                        and not trigger.recorded:
                    self.report.unjudged += 1
                else:
                    self._settle(saga, trigger)
            waiting.clear()
        self.report.differences.sort(key=lambda d: d.trigger_position)
        return self.report

    def _settle(self, saga: str, trigger: _Trigger) -> None:
        for recorded, new in zip_longest(trigger.recorded, trigger.new):
            if recorded != new:
                self._differ(Difference(
                    saga, trigger.saga_id, trigger.position, trigger.type, recorded, new))

    def _differ(self, difference: Difference) -> None:
        self.report.differing += 1
        if self.on_difference is None:
            self.report.differences.append(difference)
        else:
            self.on_difference(difference)


def _text(decision: Decision) -> DecisionText:
    """The decision as it would be recorded (its first output is its ``SagaDecided``)."""
    record = decision.outputs[0].message  # type: ignore[union-attr]
    assert isinstance(record, SagaDecided)  # noqa: S101 - decide() always records first
    return DecisionText.of(record)


def what_if(
    log: Log,
    definitions: Mapping[str, SagaDefinition],
    progress: Callable[[int], None] | None = None,
    *,
    configure: Callable[[SagaDefinition, Event], SagaDefinition] | None = None,
    on_difference: Callable[[Difference], None] | None = None,
) -> WhatIfReport:
    """Every decision ``definitions`` would now make differently on the log's inputs.

    Args:
        log: an opened store, or a target opened read-only for the call; a bundle is
            read at its source positions.
        definitions: the saga code to check, by saga name; recorded decisions of other
            sagas are not compared.
        progress: called with the position reached, now and then.
        configure: the definition one run was decided by, from the base definition and
            the run's start (the master pipeline's depends on its configuration):
            :func:`sagas.catalog.definition_of_run` for the built-in ones.
        on_difference: called with each difference as soon as it is settled, instead of
            keeping it in the report: memory stays bounded however many there are (changed
            code can change every decision of a million-record log). Each saga's differences
            come in position order; across sagas they interleave.

    """
    with reading(log) as store:
        positions = source_positions(store)
        checkpoints = store.checkpoints()  # before the last position: see the module's hazard
        last = store.last_position()
        if positions is not None:
            checkpoints = {name: positions.source(at) for name, at in checkpoints.items()}
            last = positions.source(last)
        fold = SagaFold(definitions, configure)
        comparison = _Comparison(fold, checkpoints, on_difference)
        comparison.report.last_position = last
        for record in records_up_to(store, last, [*fold.types, SagaDecided], progress,
                                    positions):
            comparison.feed(record)
    return comparison.finish()
