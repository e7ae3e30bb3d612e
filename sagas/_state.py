"""A saga's state, folded from its events, and the pure decision each new event leads to.

:func:`decide` takes the state (None before the start) and one recorded event, and
returns the new state and the decisions, each with its rule, its reason in words and
the outputs it issues. It reads nothing else (no clock, no store), so replaying the
same events always gives the same decisions: the saga actor rebuilds its sagas this
way after a restart, and a test can feed it any synthetic stream.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sagalog.actors import CancelTimer, Emit, Output, Schedule
from sagalog.events import Envelope, Event, Message
from sagalog.events.runtime import HandlerFailed
from sagalog.events.sagas import ManualReviewRequired, RetryStep, SagaDecided, StepTimedOut
from sagalog.sagas._definition import ForEach, Step

if TYPE_CHECKING:
    from sagalog.sagas._definition import SagaDefinition

__all__ = ["TERMINAL", "Decision", "SagaState", "StepState", "decide"]

TERMINAL = frozenset({"completed", "failed", "ended", "manual_review"})
"""Saga statuses that mean it is over."""


@dataclass
class StepState:
    """Where one step stands."""

    status: str = "pending"
    """pending, running, waiting_retry, succeeded, failed, compensating, compensated,
    compensation_failed."""
    attempt: int = 0
    compensation_attempt: int = 0
    succeeded_at: int = 0
    """Position of the success, for undoing newest first."""


@dataclass
class SagaState:
    """One saga instance, as its events so far have made it."""

    saga_id: str
    start: Envelope[Message]
    stream_id: str
    stage: int = -1
    status: str = "running"
    """running, compensating, then one of :data:`TERMINAL`."""
    reason: str = ""
    steps: dict[str, StepState] = field(default_factory=dict)
    """Each step's state by name (and each ForEach item's under ``name[item]``)."""
    results: dict[str, Envelope[Message]] = field(default_factory=dict)
    """Each step's latest result, as the builds and gates see it."""
    items: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each started ForEach's items, in order (replaced, never changed in place)."""

    @property
    def ended(self) -> bool:
        """Whether the saga is over."""
        return self.status in TERMINAL


@dataclass(frozen=True)
class Decision:
    """What the saga decided on one event, why, and what it issues."""

    rule: str
    reason: str
    outputs: list[Output]


def decide(
    definition: SagaDefinition, state: SagaState | None, event: Envelope[Message]
) -> tuple[SagaState | None, list[Decision]]:
    """The state after ``event`` and the decisions it leads to (pure; ``state`` is not changed)."""
    data = event.data
    if isinstance(data, definition.start):
        if state is not None:
            return state, []  # a repeated start changes nothing
        start_state = SagaState(
            saga_id=definition.saga_id(data),
            start=event,
            stream_id=definition.stream(data) if definition.stream else event.stream_id,
            steps={name: StepState() for name in definition.steps_by_name},
        )
        return _Run(definition, start_state, event).advance()
    if state is None:
        return None, []  # a result for a saga this definition never started
    run = _Run(definition, _copy(state), event)
    return run.react()


class _Run:
    """One decision in progress: the state being changed and the decisions made."""

    def __init__(self, definition: SagaDefinition, state: SagaState,
                 event: Envelope[Message]) -> None:
        self.definition = definition
        self.state = state
        self.event = event
        self.decisions: list[Decision] = []
        self.start: Event = state.start.data  # type: ignore[assignment]

    # -- dispatch ----------------------------------------------------------------------

    def react(self) -> tuple[SagaState, list[Decision]]:
        data = self.event.data
        if isinstance(data, StepTimedOut | RetryStep):
            found = self.definition.step_of(data.step)
            if found is not None and data.step in self.state.steps:
                step, _item = found
                if isinstance(data, StepTimedOut):
                    self._timed_out(step, data.step, data)
                else:
                    self._retry(step, data.step, data)
            return self.state, self.decisions
        if isinstance(data, HandlerFailed):
            self._dead_letter(data)
            return self.state, self.decisions
        for step in self.definition.steps_by_name.values():
            if isinstance(data, step.result_types) and self._answer(step, data):
                break
        return self.state, self.decisions

    def _answer(self, step: Step | ForEach, data: Event) -> bool:
        """Apply a result to the step it answers; False if it answers none of this saga's."""
        why = self._trigger()
        if isinstance(step, ForEach):
            key = ForEach.key(step.name, step.item_of(data))
            if key not in self.state.steps:
                return False  # an item this saga never had
            if isinstance(data, step.succeeded):
                self._succeeded(step, key)
            else:
                self._failed(step, key, why)
        elif isinstance(data, step.succeeded):
            self._succeeded(step, step.name)
        elif isinstance(data, step.failed):
            self._failed(step, step.name, why)
        elif isinstance(data, step.compensated):
            self._compensated(step)
        else:
            self._compensation_failed(step, why)
        return True

    # -- rules -------------------------------------------------------------------------

    def advance(self) -> tuple[SagaState, list[Decision]]:
        """Start the next stage whose gate lets it run; complete after the last."""
        stages = self.definition.stages
        while self.state.stage + 1 < len(stages):
            self.state.stage += 1
            stage = stages[self.state.stage]
            why = f"because {self._trigger()}"
            if stage.gate is not None:
                verdict = stage.gate.check(self.start, self.state.results)
                if not verdict.passed:
                    if stage.gate.otherwise == "stop":
                        self._decide("stop", f"stopped before {stage.label}: {verdict.reason}",
                                     [])
                        self._skip_rest(f"gate {stage.gate.name} stopped the saga")
                        return self._complete()
                    self._decide("skip", f"skipped {stage.label}: {verdict.reason}", [])
                    continue
                why += f"; gate {stage.gate.name}: {verdict.reason}"
            outputs: list[Output] = []
            started: list[str] = []
            for step in stage.steps:
                if isinstance(step, ForEach):
                    issued, keys = self._start_fan_out(step)
                    outputs += issued
                    started += keys or [f"{step.name} (no items)"]
                else:
                    outputs += self._issue(step, step.name, attempt=1)
                    started.append(step.name)
            label = f"stage {stage.name}: " if stage.name else ""
            self._decide("start-stage", f"started {label}{', '.join(started)} {why}", outputs)
            if not self._stage_done():
                return self.state, self.decisions
        return self._complete()

    def _start_fan_out(self, fan_out: ForEach) -> tuple[list[Output], list[str]]:
        items = tuple(dict.fromkeys(fan_out.items(self.start)))
        self.state.items = {**self.state.items, fan_out.name: items}
        for item in items:
            self.state.steps[ForEach.key(fan_out.name, item)] = StepState()
        own = self.state.steps[fan_out.name]
        own.status = "running" if items else "succeeded"
        own.succeeded_at = 0 if items else self.event.position
        return self._fill(fan_out)

    def _fill(self, fan_out: ForEach) -> tuple[list[Output], list[str]]:
        """Start pending items while fewer than the cap are in flight."""
        keys = [ForEach.key(fan_out.name, item) for item in self.state.items[fan_out.name]]
        in_flight = sum(self.state.steps[key].status in ("running", "waiting_retry")
                        for key in keys)
        outputs: list[Output] = []
        started: list[str] = []
        for key in keys:
            if in_flight >= fan_out.concurrency:
                break
            if self.state.steps[key].status == "pending":
                outputs += self._issue(fan_out, key, attempt=1)
                started.append(key)
                in_flight += 1
        return outputs, started

    def _succeeded(self, step: Step | ForEach, key: str) -> None:
        own = self.state.steps[key]
        if own.status in ("pending", "succeeded", "compensating", "compensated",
                          "compensation_failed"):
            return  # a duplicate result (or one for an item never started) changes nothing
        cancel = self._cancel_timer(step, key, own.attempt)
        own.status = "succeeded"
        own.succeeded_at = self.event.position
        self.state.results[key] = self.event
        if self.state.status != "running":
            # The saga already decided to undo (or is over): undo this late success too.
            late = (f"{key} succeeded ({self._trigger()}) after the saga began to undo "
                    f"because {self.state.reason}")
            self._compensate([step] if isinstance(step, Step) else [], late, extra=cancel)
            return
        # (after a timeout with a retry pending, the late success counts: the retry,
        # when it fires, finds the step done and does nothing)
        if isinstance(step, ForEach):
            self._item_done(step, key, cancel)
        elif cancel:
            self._decide("step-succeeded", f"{key} succeeded ({self._trigger()})", cancel)
        if self._stage_done():
            self.advance()

    def _item_done(self, fan_out: ForEach, key: str, cancel: list[Output]) -> None:
        outputs, started = self._fill(fan_out)
        items = self.state.items[fan_out.name]
        done = sum(self.state.steps[ForEach.key(fan_out.name, item)].status == "succeeded"
                   for item in items)
        if done == len(items):
            own = self.state.steps[fan_out.name]
            own.status = "succeeded"
            own.succeeded_at = self.event.position
        if started or cancel:
            then = (f"; started {', '.join(started)} (at most {fan_out.concurrency} at once)"
                    if started else "")
            self._decide("item-succeeded", f"{key} succeeded ({self._trigger()}), "
                                           f"{done} of {len(items)} done{then}",
                         [*cancel, *outputs])

    def _failed(self, step: Step | ForEach, key: str, why: str) -> None:
        own = self.state.steps[key]
        if own.status != "running":
            return  # late or duplicate
        if self.event.position and isinstance(self.event.data, step.result_types):
            self.state.results[key] = self.event
        cancel = self._cancel_timer(step, key, own.attempt)
        if own.attempt < step.retry.attempts and self.state.status == "running":
            own.status = "waiting_retry"
            delay = step.retry.delay_before(own.attempt + 1)
            retry = Schedule(
                RetryStep(saga_id=self.state.saga_id, step=key, attempt=own.attempt + 1),
                delay=delay, stream_id=self.state.stream_id,
            )
            self._decide("retry", f"retry {key} in {delay:g} s (try {own.attempt + 1} of "
                                  f"{step.retry.attempts}) because {why}", [*cancel, retry])
            return
        own.status = "failed"
        if isinstance(step, ForEach):
            self.state.steps[step.name].status = "failed"
        elif step.ends_saga is not None and self.state.status == "running" and not any(
            other.status in ("succeeded", "running", "waiting_retry")
            for name, other in self.state.steps.items() if name != step.name
        ):
            self.state.status = "ended"
            self.state.reason = why
            end = step.ends_saga(self.start, self.event.data)  # type: ignore[arg-type]
            self._skip_rest(f"{step.name} failed: {why}")
            self._decide("end", f"ended with {type(end).__name__} because {why}",
                         [*cancel, Emit(end, self.state.stream_id)])
            return
        self._begin_compensation(f"{key} failed: {why}", cancel)

    def _timed_out(self, step: Step | ForEach, key: str, timeout: StepTimedOut) -> None:
        own = self.state.steps[key]
        why = f"no answer within {step.timeout:g} s ({self._trigger()})"
        if timeout.compensation:
            if (isinstance(step, Step) and own.status == "compensating"
                    and own.compensation_attempt == timeout.attempt):
                self._compensation_failed(step, why)
        elif own.status == "running" and own.attempt == timeout.attempt:
            self._failed(step, key, why)

    def _retry(self, step: Step | ForEach, key: str, retry: RetryStep) -> None:
        own = self.state.steps[key]
        if retry.compensation:
            if (isinstance(step, Step) and own.status == "compensation_failed"
                    and self.state.status == "compensating"):
                outputs = self._issue_compensation(step, retry.attempt)
                self._decide("retry", f"undo {step.name} again (try {retry.attempt})", outputs)
            return
        if own.status != "waiting_retry" or self.state.status != "running":
            return
        outputs = self._issue(step, key, retry.attempt)
        self._decide("retry", f"tried {key} again (try {retry.attempt} of "
                              f"{step.retry.attempts})", outputs)

    def _dead_letter(self, failed: HandlerFailed) -> None:
        why = f"{failed.actor} failed on it: {failed.error_type}"
        for step in self.definition.steps_by_name.values():
            if isinstance(step, ForEach):
                # The dead letter names the command's type, not its item: the first item
                # in flight with that type takes the failure.
                for item in self.state.items.get(step.name, ()):
                    key = ForEach.key(step.name, item)
                    if (self.state.steps[key].status == "running"
                            and _type_of(step.command(self.start, item)) == failed.input_type):
                        self._failed(step, key, why)
                        return
                continue
            own = self.state.steps[step.name]
            if (own.status == "running"
                    and _type_of(step.build(self.start, self.state.results))
                    == failed.input_type):
                self._failed(step, step.name, why)
                return
            if (step.build_compensation is not None and own.status == "compensating"
                    and _type_of(step.build_compensation(self.start, self.state.results))
                    == failed.input_type):
                self._compensation_failed(step, why)
                return

    def _compensated(self, step: Step) -> None:
        own = self.state.steps[step.name]
        if own.status != "compensating":
            return
        own.status = "compensated"
        cancel = self._cancel_timer(step, step.name, own.compensation_attempt,
                                    compensation=True)
        if cancel:
            self._decide("compensated", f"{step.name} undone ({self._trigger()})", cancel)
        self._finish_if_settled()

    def _compensation_failed(self, step: Step, why: str) -> None:
        own = self.state.steps[step.name]
        if own.status != "compensating":
            return
        cancel = self._cancel_timer(step, step.name, own.compensation_attempt,
                                    compensation=True)
        if own.compensation_attempt < step.retry.attempts:
            own.status = "compensation_failed"
            delay = step.retry.delay_before(own.compensation_attempt + 1)
            retry = Schedule(
                RetryStep(saga_id=self.state.saga_id, step=step.name,
                          attempt=own.compensation_attempt + 1, compensation=True),
                delay=delay, stream_id=self.state.stream_id,
            )
            self._decide("retry", f"undo {step.name} again in {delay:g} s because {why}",
                         [*cancel, retry])
            return
        own.status = "compensation_failed"
        self.state.status = "manual_review"
        self.state.reason = f"undoing {step.name} kept failing: {why}"
        review = ManualReviewRequired(
            saga=self.definition.name, saga_id=self.state.saga_id, step=step.name,
            reason=self.state.reason, attempts=own.compensation_attempt,
        )
        self._decide("escalate", f"a person must look: undoing {step.name} failed "
                                 f"{own.compensation_attempt} times ({why})",
                     [*cancel, Emit(review, self.state.stream_id)])

    # -- helpers -----------------------------------------------------------------------

    def _begin_compensation(self, reason: str, extra: list[Output]) -> None:
        if self.state.status == "running":
            self.state.status = "compensating"
            self.state.reason = reason
        done = [
            step
            for name, own in sorted(self.state.steps.items(),
                                    key=lambda item: -item[1].succeeded_at)
            if own.status == "succeeded"
            and isinstance(step := self.definition.steps_by_name.get(name), Step)
        ]
        self._compensate(done, reason, extra=extra)

    def _compensate(self, steps: list[Step], reason: str, extra: list[Output]) -> None:
        outputs = list(extra)
        undone = []
        for step in steps:
            if step.compensation is None:
                continue  # nothing to undo: it stays a success
            outputs += self._issue_compensation(step, 1)
            undone.append(step.name)
        if undone:
            self._decide("compensate", f"undo {', '.join(undone)} because {reason}", outputs)
        elif outputs or not self.decisions:
            self._decide("compensate", f"nothing to undo because {reason}", outputs)
        self._finish_if_settled()

    def _finish_if_settled(self) -> None:
        if self.state.status != "compensating":
            return
        busy = {"running", "waiting_retry", "compensating", "compensation_failed"}
        if any(own.status in busy for own in self.state.steps.values()):
            return
        undone = [name for name, own in self.state.steps.items() if own.status == "compensated"]
        self.state.status = "failed"
        self._skip_rest(self.state.reason)
        end = self.definition.build_failed(self.start, self.state.reason, undone,
                                           self.state.results)
        self._decide("fail", f"failed because {self.state.reason}; undid "
                             f"{', '.join(undone) or 'nothing'}",
                     [Emit(end, self.state.stream_id)])

    def _skip_rest(self, why: str) -> None:
        """Record the work that will now never run: items not started, later stages."""
        stages = self.definition.stages
        if 0 <= self.state.stage < len(stages):
            for step in stages[self.state.stage].steps:
                if isinstance(step, ForEach):
                    never = [key for item in self.state.items.get(step.name, ())
                             if self.state.steps[key := ForEach.key(step.name, item)].status
                             == "pending"]
                    if never:
                        self._decide("skip", f"never started {', '.join(never)}: halted "
                                             f"because {why}", [])
        for stage in stages[self.state.stage + 1:]:
            self._decide("skip", f"skipped {stage.label}: halted because {why}", [])
        self.state.stage = len(stages)

    def _complete(self) -> tuple[SagaState, list[Decision]]:
        self.state.status = "completed"
        end = self.definition.build_completed(self.start, self.state.results)
        ran = [name for name, own in self.state.steps.items() if own.status == "succeeded"]
        what = "every step succeeded" if len(ran) == len(self.state.steps) else (
            f"{', '.join(ran)} succeeded, the rest was skipped" if ran else "nothing ran")
        self._decide("complete", f"completed: {what} ({self._trigger()})",
                     [Emit(end, self.state.stream_id)])
        return self.state, self.decisions

    def _stage_done(self) -> bool:
        stage = self.definition.stages[self.state.stage]
        return all(self.state.steps[step.name].status == "succeeded" for step in stage.steps)

    def _issue(self, step: Step | ForEach, key: str, attempt: int) -> list[Output]:
        own = self.state.steps[key]
        own.status, own.attempt = "running", attempt
        if isinstance(step, ForEach):
            found = self.definition.step_of(key)
            command = step.command(self.start, found[1] if found and found[1] else "")
        else:
            command = step.build(self.start, self.state.results)
        stream = step.stream(self.start) if step.stream else self.state.stream_id
        outputs: list[Output] = [Emit(command, stream)]
        if step.timeout is not None:
            outputs.append(Schedule(
                StepTimedOut(saga_id=self.state.saga_id, step=key, attempt=attempt),
                delay=step.timeout, stream_id=self.state.stream_id,
                timer_id=self._timer_id(key, attempt),
            ))
        return outputs

    def _issue_compensation(self, step: Step, attempt: int) -> list[Output]:
        assert step.build_compensation is not None  # noqa: S101 - callers check
        own = self.state.steps[step.name]
        own.status, own.compensation_attempt = "compensating", attempt
        command = step.build_compensation(self.start, self.state.results)
        stream = step.stream(self.start) if step.stream else self.state.stream_id
        outputs: list[Output] = [Emit(command, stream)]
        if step.timeout is not None:
            outputs.append(Schedule(
                StepTimedOut(saga_id=self.state.saga_id, step=step.name, attempt=attempt,
                             compensation=True),
                delay=step.timeout, stream_id=self.state.stream_id,
                timer_id=self._timer_id(step.name, attempt, compensation=True),
            ))
        return outputs

    def _cancel_timer(
        self, step: Step | ForEach, key: str, attempt: int, *, compensation: bool = False
    ) -> list[Output]:
        if step.timeout is None:
            return []
        return [CancelTimer(self._timer_id(key, attempt, compensation=compensation),
                            stream_id=self.state.stream_id)]

    def _timer_id(self, key: str, attempt: int, *, compensation: bool = False) -> str:
        kind = "undo" if compensation else "do"
        return f"{self.definition.name}/{self.state.saga_id}/{key}/{kind}/{attempt}"

    def _trigger(self) -> str:
        return f"{self.event.type} at {self.event.position}"

    def _decide(self, rule: str, reason: str, outputs: list[Output]) -> None:
        record = SagaDecided(
            saga=self.definition.name, saga_id=self.state.saga_id, rule=rule, reason=reason,
            trigger_type=self.event.type, trigger_position=self.event.position,
            trigger_event_id=str(self.event.event_id),
            commands=[_type_of(_message(output)) for output in outputs
                      if not isinstance(output, CancelTimer)],
        )
        self.decisions.append(Decision(rule, reason, [Emit(record, self.state.stream_id),
                                                      *outputs]))


def _copy(state: SagaState) -> SagaState:
    """A copy ``decide`` may change: the steps are copied, the immutable start is shared.

    ``copy.deepcopy`` also copied the start envelope's pydantic model on every event; it
    was half the time of rebuilding 10,000 sagas from a 370,000-record log.
    """
    return dataclasses.replace(
        state, steps={name: dataclasses.replace(step) for name, step in state.steps.items()},
        results=dict(state.results),
    )


def _message(output: Output) -> Message:
    if isinstance(output, Emit | Schedule):
        return output.message
    assert isinstance(output, Message)  # noqa: S101 - CancelTimer filtered by the caller
    return output


def _type_of(message: Message) -> str:
    return type(message).message_type
