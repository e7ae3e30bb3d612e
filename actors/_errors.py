"""The actor runtime's errors."""

from __future__ import annotations

from sagalog.events import SagalogError

__all__ = [
    "ActorDefinitionError",
    "ActorGaveUpError",
    "ActorRuntimeError",
    "HandlerOutputError",
    "RuntimeStateError",
]


class ActorRuntimeError(SagalogError):
    """Base class of the runtime's errors."""


class ActorDefinitionError(ActorRuntimeError, TypeError):
    """An actor class is declared wrongly (a handler for a non-message, a clash)."""


class HandlerOutputError(ActorRuntimeError, TypeError):
    """A handler returned something that is not a message or an output instruction."""


class RuntimeStateError(ActorRuntimeError):
    """The runtime was used in a state that does not allow it (not started, stopped)."""


class ActorGaveUpError(ActorRuntimeError):
    """An actor died more often than ``max_restarts`` allows; the runtime stopped restarting it.

    Its work stays in the log, unhandled, until a runtime runs it again: whoever waits for
    that work gets this error instead of waiting for ever. ``cause`` is its last death.
    """

    def __init__(self, actor: str, cause: BaseException, deaths: int) -> None:
        self.actor = actor
        """The actor's name (its checkpoint's)."""
        self.cause = cause
        """The error its last death was on."""
        self.deaths = deaths
        """How many times it died in this runtime."""
        super().__init__(
            f"actor {actor!r} gave up after dying {deaths} times; its work is left in the "
            f"log, unhandled (last cause: {type(cause).__name__}: {cause})"
        )
