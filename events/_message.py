"""The message bases: :class:`Message`, and its two kinds :class:`Event` and :class:`Command`.

A message is a frozen pydantic model that refuses unknown fields. Defining a subclass
registers it in :data:`events.registry` under its class name and version 1, unless the
class says otherwise::

    class PaymentCharged(Event):                  # stored as ("PaymentCharged", 1)
        order_id: str
        amount_cents: int

    class OrderPlaced(Event, name="OrderPlaced", version=2):
        ...

A class that only shares fields with others says ``abstract=True`` and is not registered.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from sagalog.events._registry import registry

__all__ = ["Command", "Event", "Message"]

_RESERVED = frozenset({"message_type", "message_version", "message_kind"})
"""Class attributes of every message; a field of the same name would hide them."""


class Message(BaseModel):
    """A typed message: a fact (:class:`Event`) or a request (:class:`Command`)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        # NaN and Infinity are refused at construction; JSON has no spelling for them.
        allow_inf_nan=False,
        # ...and if one slips in through an untyped field, serialize it visibly so the
        # portability check in ``events.encode`` can refuse it instead of storing null.
        ser_json_inf_nan="constants",
    )

    message_type: ClassVar[str]
    """The stable name this class is stored under."""
    message_version: ClassVar[int]
    """The schema version this class writes; older stored versions are upcast to it."""
    message_kind: ClassVar[str] = "message"
    """``event`` or ``command``."""

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        version: int = 1,
        abstract: bool = False,
        **kwargs: object,
    ) -> None:
        # Runs before pydantic has built the class; registration waits for
        # __pydantic_init_subclass__, when the class is complete.
        super().__init_subclass__(**kwargs)  # type: ignore[arg-type]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            msg = f"{cls.__qualname__}: version must be an integer >= 1, not {version!r}"
            raise TypeError(msg)
        cls.__sagalog_pending__ = (name or cls.__name__, version, abstract)  # type: ignore[attr-defined]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:  # noqa: ANN401 - pydantic's hook
        super().__pydantic_init_subclass__(**kwargs)
        name, version, abstract = cls.__dict__["__sagalog_pending__"]
        clash = _RESERVED.intersection(cls.model_fields)
        if clash:
            msg = (
                f"{cls.__qualname__}: field {min(clash)!r} clashes with the class "
                f"attribute sagalog keeps under that name; rename the field"
            )
            raise TypeError(msg)
        if abstract or cls in _BASES:
            return
        cls.message_type = name
        cls.message_version = version
        registry.register(cls, name, version)


class Event(Message, abstract=True):
    """A fact that happened, named in the past tense (``PaymentCharged``)."""

    message_kind: ClassVar[str] = "event"


class Command(Message, abstract=True):
    """A request to do something, named in the imperative (``ChargePayment``)."""

    message_kind: ClassVar[str] = "command"


_BASES: frozenset[type[Message]] = frozenset({Event, Command})
