"""Saga definitions: a start message, stages of steps (parallel within a stage), gates.

A step names the command that does it, the events that mean success and failure, and
optionally the command that undoes it and the events that mean that is done. A stage
runs its steps in parallel; the next stage starts when all of them succeeded. A gate in
front of a stage decides from the start message whether to run it, skip it, or stop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from actors import RetryPolicy
from events import Command, Event

__all__ = ["Build", "Gate", "SagaDefinition", "Stage", "Step"]

Build = Callable[[Event], Command]
"""Makes a command from the saga's start message."""

NO_RETRY = RetryPolicy(attempts=1, delay=0.0)


@dataclass(frozen=True)
class Step:
    """One unit of work of a saga, and how to undo it."""

    name: str
    command: Build
    succeeded: tuple[type[Event], ...]
    failed: tuple[type[Event], ...]
    compensation: Build | None = None
    compensated: tuple[type[Event], ...] = ()
    compensation_failed: tuple[type[Event], ...] = ()
    retry: RetryPolicy = NO_RETRY
    """Tries of the step (and of its compensation) before giving up, and the waits between."""
    timeout: float | None = None
    """Seconds to wait for a result before counting the try as failed."""
    ends_saga: Callable[[Event, Event], Event] | None = None
    """On failure, end the saga with this event (start, failure) instead of compensating."""


@dataclass(frozen=True)
class Gate:
    """A condition on the start message in front of a stage."""

    name: str
    condition: Callable[[Event], bool]
    otherwise: Literal["skip", "stop"] = "skip"
    """What happens when the condition is false: skip the stage, or stop the saga there."""


@dataclass(frozen=True)
class Stage:
    """Steps that run in parallel, behind an optional gate."""

    steps: tuple[Step, ...]
    gate: Gate | None = None


@dataclass(frozen=True)
class SagaDefinition:
    """A saga: what starts it, its stages, and the events that end it."""

    name: str
    start: type[Event]
    saga_id: Callable[[Event], str]
    """The saga instance's id (and correlation id) from its start message."""
    stages: tuple[Stage, ...]
    completed: Callable[[Event], Event]
    """The event that ends the saga when every stage succeeded (or a gate stopped it)."""
    failed: Callable[[Event, str, list[str]], Event]
    """The event that ends a failed saga: (start, reason, compensated step names)."""
    stream: Callable[[Event], str] | None = None
    """The stream its commands and decisions go to (default: the start's stream)."""
    steps_by_name: dict[str, Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [step.name for stage in self.stages for step in stage.steps]
        if len(set(names)) != len(names):
            msg = f"saga {self.name!r}: step names must be unique, got {names}"
            raise ValueError(msg)
        steps = {step.name: step for stage in self.stages for step in stage.steps}
        object.__setattr__(self, "steps_by_name", steps)

    def event_types(self) -> list[type[Event]]:
        """Every event type the saga reacts to (its start and its steps' results)."""
        kinds: list[type[Event]] = [self.start]
        for stage in self.stages:
            for step in stage.steps:
                kinds += [*step.succeeded, *step.failed, *step.compensated,
                          *step.compensation_failed]
        return list(dict.fromkeys(kinds))
