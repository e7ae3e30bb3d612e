"""Saga definitions: a start message, stages of steps (parallel within a stage), gates.

A step names the command that does it, the events that mean success and failure, and
optionally the command that undoes it and the events that mean that is done. A stage
runs its steps in parallel; the next stage starts when all of them succeeded. A gate in
front of a stage decides whether to run it, skip it, or stop, and says why. A
:class:`ForEach` fans one step out over items with a cap on how many run at once.

Commands, gates and the ending events are built from the start message, or from the
start and the results so far (:data:`Results`): a function of one argument gets the
start, a function of two gets ``(start, results)``. Either way they stay pure, so a
replay of the same events makes the same decisions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sagalog.actors import RetryPolicy
from sagalog.events import Command, Envelope, Event, Message

__all__ = ["Build", "ForEach", "Gate", "Results", "SagaDefinition", "Stage", "Step", "Verdict"]

Results = Mapping[str, Envelope[Message]]
"""Each step's latest result so far, by step name (a ForEach item's under ``name[item]``)."""

Build = Callable[[Event], Command] | Callable[[Event, Results], Command]
"""Makes a command from the saga's start message (and, with two parameters, the results)."""


@dataclass(frozen=True)
class Verdict:
    """A gate's answer and the reason for it, recorded with the decision."""

    passed: bool
    """True: run the stage; False: skip it, or stop the saga (the gate's ``otherwise``)."""
    reason: str
    """Why, in words; recorded in the decision (``ETag unchanged since pos 77``)."""


def _arity(function: Callable[..., object]) -> int:
    """How many positional arguments ``function`` takes (``*args`` counts as many)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: pass the start only
        return 1
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return 99
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
               for p in parameters)


def _with_results(function: Callable[..., Any], base: int) -> Callable[..., Any]:
    """``function`` called with ``base`` arguments plus the results, whichever it takes."""
    if _arity(function) > base:
        return function
    return lambda *arguments: function(*arguments[:base])

NO_RETRY = RetryPolicy(attempts=1, delay=0.0)


@dataclass(frozen=True)
class Step:
    """One unit of work of a saga, and how to undo it."""

    name: str
    """The step's name, unique in its saga; decisions and ``explain`` use it."""
    command: Build
    """Builds the command that does the step, from the start (and the results so far)."""
    succeeded: tuple[type[Event], ...]
    """The events that mean the step succeeded."""
    failed: tuple[type[Event], ...]
    """The events that mean the step failed (a dead letter of its command counts too)."""
    compensation: Build | None = None
    """Builds the command that undoes the step; None: nothing to undo."""
    compensated: tuple[type[Event], ...] = ()
    """The events that mean the undoing is done."""
    compensation_failed: tuple[type[Event], ...] = ()
    """The events that mean the undoing failed (after its tries, the saga escalates)."""
    retry: RetryPolicy = NO_RETRY
    """Tries of the step (and of its compensation) before giving up, and the waits between."""
    timeout: float | None = None
    """Seconds to wait for a result before counting the try as failed."""
    ends_saga: Callable[[Event, Event], Event] | None = None
    """On failure, end the saga with this event (start, failure) instead of compensating."""
    stream: Callable[[Event], str] | None = None
    """The stream the step's commands go to, e.g. a queue (default: the saga's stream)."""
    build: Callable[[Event, Results], Command] = field(init=False, repr=False, compare=False)
    """:attr:`command` taking ``(start, results)`` whatever it was written to take."""
    build_compensation: Callable[[Event, Results], Command] | None = field(
        default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "build", _with_results(self.command, 1))
        if self.compensation is not None:
            object.__setattr__(self, "build_compensation", _with_results(self.compensation, 1))

    @property
    def result_types(self) -> tuple[type[Event], ...]:
        """Every event that answers this step or its compensation."""
        return (*self.succeeded, *self.failed, *self.compensated, *self.compensation_failed)


@dataclass(frozen=True)
class ForEach:
    """One step fanned out over items, at most :attr:`concurrency` at a time.

    The items come from the start message; each runs like a step (its own tries and
    timeout), and the next item starts when one finishes. The ForEach succeeds when every
    item did, and fails (failing the saga) when an item fails after its tries.
    """

    name: str
    """The fan-out's name; each item's state goes under ``name[item]``."""
    items: Callable[[Event], Sequence[str]]
    """The items, from the start message, in the order they start."""
    command: Callable[[Event, str], Command]
    """The command for one item: ``(start, item)``."""
    item_of: Callable[[Event], str]
    """Which item a result event answers."""
    succeeded: tuple[type[Event], ...]
    """The events that mean an item succeeded."""
    failed: tuple[type[Event], ...]
    """The events that mean an item failed (after its tries, the saga fails)."""
    concurrency: int = 1
    """Most items running at once."""
    retry: RetryPolicy = NO_RETRY
    """Tries of each item, and the waits between them."""
    timeout: float | None = None
    """Seconds to wait for an item's result before counting the try as failed."""
    stream: Callable[[Event], str] | None = None
    """The stream the items' commands go to (default: the saga's stream)."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            msg = f"ForEach {self.name!r}: concurrency must be at least 1, got {self.concurrency}"
            raise ValueError(msg)

    @property
    def result_types(self) -> tuple[type[Event], ...]:
        """Every event that answers an item."""
        return (*self.succeeded, *self.failed)

    @staticmethod
    def key(name: str, item: str) -> str:
        """The name an item's state, timers and result go under."""
        return f"{name}[{item}]"


@dataclass(frozen=True)
class Gate:
    """A condition on the start message in front of a stage."""

    name: str
    """The gate's name, as decisions quote it when it gives no reason."""
    condition: (Callable[[Event], bool | Verdict]
                | Callable[[Event, Results], bool | Verdict])
    """From the start (and the results so far): True / False, or a :class:`Verdict`."""
    otherwise: Literal["skip", "stop"] = "skip"
    """What happens when the condition is false: skip the stage, or stop the saga there."""

    def check(self, start: Event, results: Results) -> Verdict:
        """The verdict on ``start`` and ``results``, with a reason in words."""
        answer = _with_results(self.condition, 1)(start, results)
        if isinstance(answer, Verdict):
            return answer
        return Verdict(bool(answer), f"gate {self.name} said {'yes' if answer else 'no'}")


@dataclass(frozen=True)
class Stage:
    """Steps that run in parallel, behind an optional gate."""

    steps: tuple[Step | ForEach, ...]
    """The steps, started together; the next stage starts when all succeeded."""
    gate: Gate | None = None
    """Decides whether the stage runs (None: it always does)."""
    name: str = ""
    """How decisions name the stage (default: its steps' names)."""

    @property
    def label(self) -> str:
        """The stage as decisions name it."""
        steps = ", ".join(step.name for step in self.steps)
        return f"stage {self.name} ({steps})" if self.name else steps


@dataclass(frozen=True)
class SagaDefinition:
    """A saga: what starts it, its stages, and the events that end it."""

    name: str
    """The saga's name: recorded in its decisions, and how ``graph`` and ``what-if`` know it."""
    start: type[Event]
    """The event that starts an instance."""
    saga_id: Callable[[Event], str]
    """The saga instance's id (and correlation id) from its start message."""
    stages: tuple[Stage, ...]
    """Run in order; a failed stage ends the saga (after undoing what succeeded)."""
    completed: Callable[[Event], Event] | Callable[[Event, Results], Event]
    """The event that ends the saga when every stage succeeded (or a gate stopped it):
    from the start, or ``(start, results)``."""
    failed: (Callable[[Event, str, list[str]], Event]
             | Callable[[Event, str, list[str], Results], Event])
    """The event that ends a failed saga: (start, reason, compensated step names), or
    the same and the results."""
    stream: Callable[[Event], str] | None = None
    """The stream its commands and decisions go to (default: the start's stream)."""
    steps_by_name: dict[str, Step | ForEach] = field(init=False, repr=False, compare=False)
    build_completed: Callable[[Event, Results], Event] = field(
        init=False, repr=False, compare=False)
    build_failed: Callable[[Event, str, list[str], Results], Event] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [step.name for stage in self.stages for step in stage.steps]
        if len(set(names)) != len(names):
            msg = f"saga {self.name!r}: step names must be unique, got {names}"
            raise ValueError(msg)
        if any("[" in name for name in names):
            msg = f"saga {self.name!r}: step names may not contain '[' (ForEach items use it)"
            raise ValueError(msg)
        steps = {step.name: step for stage in self.stages for step in stage.steps}
        object.__setattr__(self, "steps_by_name", steps)
        object.__setattr__(self, "build_completed",
                           cast("Any", _with_results(self.completed, 1)))
        object.__setattr__(self, "build_failed", cast("Any", _with_results(self.failed, 3)))

    def event_types(self) -> list[type[Event]]:
        """Every event type the saga reacts to (its start and its steps' results)."""
        kinds: list[type[Event]] = [self.start]
        for stage in self.stages:
            for step in stage.steps:
                kinds += step.result_types
        return list(dict.fromkeys(kinds))

    def step_of(self, key: str) -> tuple[Step | ForEach, str | None] | None:
        """The step a state key names, and the ForEach item if it is one."""
        step = self.steps_by_name.get(key)
        if step is not None:
            return step, None
        name, bracket, rest = key.partition("[")
        fan_out = self.steps_by_name.get(name)
        if bracket and rest.endswith("]") and isinstance(fan_out, ForEach):
            return fan_out, rest[:-1]
        return None
