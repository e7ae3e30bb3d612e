"""The saga machinery's own messages: decisions with their reasons, timeouts, retries, escalation.

These are part of the log format: their registered names must not change.
"""

from __future__ import annotations

from sagalog.events._message import Command, Event

__all__ = ["ManualReviewRequired", "RetryStep", "SagaDecided", "StepTimedOut"]


class SagaDecided(Event, name="SagaDecided"):
    """A saga's decision, recorded with the rule it followed and the event that triggered it."""

    saga: str
    """The saga definition's name."""
    saga_id: str
    """The saga instance (its correlation id)."""
    rule: str
    """The rule applied: start-stage, retry, timeout, compensate, complete, fail, end, escalate."""
    reason: str
    """The decision in words, naming the trigger's type and position."""
    trigger_type: str
    trigger_position: int
    trigger_event_id: str
    commands: list[str]
    """The commands issued by this decision, by type, in order."""


class StepTimedOut(Event, name="StepTimedOut"):
    """A step's timer fired before its result arrived (delivered by a durable timer)."""

    saga_id: str
    step: str
    attempt: int
    compensation: bool = False


class RetryStep(Command, name="RetryStep"):
    """Try a failed step (or its compensation) again (delivered by a durable timer)."""

    saga_id: str
    step: str
    attempt: int
    compensation: bool = False


class ManualReviewRequired(Event, name="ManualReviewRequired"):
    """A compensation kept failing: a person must look. The saga ends in this state."""

    saga: str
    saga_id: str
    step: str
    reason: str
    attempts: int
