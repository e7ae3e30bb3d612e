"""The actor runtime's errors."""

from __future__ import annotations

from sagalog.events import SagalogError

__all__ = [
    "ActorDefinitionError",
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
