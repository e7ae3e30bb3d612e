"""Which message types a read asks for: classes or registered names, checked once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sagalog.store._errors import StoreError

if TYPE_CHECKING:
    from sagalog.events import Message

__all__ = ["type_names"]


def type_names(types: Iterable[type[Message] | str] | None) -> list[str] | None:
    """The registered names of ``types`` (None: every type).

    Raises:
        StoreError: an item is neither a message class nor a name.

    """
    if types is None:
        return None
    if isinstance(types, str):
        msg = f"types must be a collection of message classes or names, not the text {types!r}"
        raise StoreError(msg)
    names = []
    for kind in types:
        if isinstance(kind, str):
            names.append(kind)
        elif isinstance(kind, type) and isinstance(getattr(kind, "message_type", None), str):
            names.append(kind.message_type)
        else:
            msg = f"types must hold message classes or type names, not {kind!r}"
            raise StoreError(msg)
    return names
