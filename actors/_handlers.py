"""Declaring which message types an actor's methods handle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sagalog.actors._errors import ActorDefinitionError
from sagalog.events import Message

__all__ = ["collect_handlers", "handles"]

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__sagalog_handles__"


def handles(*types: type[Message]) -> Callable[[F], F]:
    """Mark a method as the handler of these message types.

    The method is called as ``method(message, envelope)`` and returns the messages to
    append (see :mod:`actors`). Example::

        class Payments(Actor):
            @handles(ChargePayment)
            def charge(self, command: ChargePayment, envelope: Envelope) -> Message:
                return PaymentCharged(order_id=command.order_id)
    """
    for kind in types:
        if not (isinstance(kind, type) and issubclass(kind, Message)
                and hasattr(kind, "message_type")):
            msg = f"@handles takes registered message classes, not {kind!r}"
            raise ActorDefinitionError(msg)
    if not types:
        msg = "@handles needs at least one message class"
        raise ActorDefinitionError(msg)

    def mark(method: F) -> F:
        setattr(method, _MARK, types)
        return method

    return mark


def collect_handlers(cls: type, reserved: frozenset[str] = frozenset()) -> dict[str, str]:
    """Map each handled type name to its method name, through the class's bases.

    Raises:
        ActorDefinitionError: two methods handle one type, or a handler's name is one
            the actor machinery uses (``start``, ``stop``, ``on_receive``...), which
            the handler would silently replace.

    """
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        for attribute, value in vars(klass).items():
            marked = getattr(value, _MARK, ())
            if marked and attribute in reserved:
                msg = (
                    f"{cls.__qualname__}.{attribute}() handles {marked[0].message_type}, but "
                    f"{attribute!r} is a name the actor machinery uses; rename the handler"
                )
                raise ActorDefinitionError(msg)
            for kind in marked:
                name = kind.message_type
                owner = found.get(name)
                if owner is not None and owner != attribute and klass is cls:
                    msg = (
                        f"{cls.__qualname__}: both {owner}() and {attribute}() handle "
                        f"{name}; one type has one handler per actor"
                    )
                    raise ActorDefinitionError(msg)
                found[name] = attribute
    return found
