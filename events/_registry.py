"""The type registry: the stable names and versions messages are stored under.

A class registers itself when it is defined (see :class:`events.Message`), so the name
in the log survives a rename of the class. The registry also holds the upcasters that
turn an older stored version into the current one, and decodes stored JSON into typed
messages. There is one process-wide registry, like Python's own import system: every
store and runtime in the process reads the same message types.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sagalog.events._errors import (
    DuplicateMessageTypeError,
    InvalidMessageError,
    UnknownMessageTypeError,
    UpcastError,
)

if TYPE_CHECKING:
    from sagalog.events._message import Message

__all__ = ["Registry", "Upcaster", "registry", "upcaster"]

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the data of version N of a message type into the data of version N + 1."""


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_validation_error(error: ValidationError) -> list[str]:
    """Turn pydantic's error list into one short line per bad field."""
    lines = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "(message)"
        lines.append(f"{field}: {item['msg']}")
    return lines


class Registry:
    """Maps (name, version) to message classes, and holds the upcasters between versions."""

    def __init__(self) -> None:
        self._classes: dict[tuple[str, int], type[Message]] = {}
        self._current: dict[str, type[Message]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._lock = threading.Lock()

    def register(self, cls: type[Message], name: str, version: int) -> None:
        """Record ``cls`` as (``name``, ``version``).

        Raises:
            DuplicateMessageTypeError: another class already holds that name and version.
                Re-defining the same class (same module and qualified name, as a module
                reload does) replaces it instead.

        """
        key = (name, version)
        with self._lock:
            existing = self._classes.get(key)
            if existing is not None and _qualified(existing) != _qualified(cls):
                raise DuplicateMessageTypeError(
                    name, version, _qualified(existing), _qualified(cls)
                )
            self._classes[key] = cls
            current = self._current.get(name)
            if current is None or current.message_version <= version:
                self._current[name] = cls

    def add_upcaster(self, name: str, from_version: int, function: Upcaster) -> None:
        """Register ``function`` to turn ``name`` version ``from_version`` into the next."""
        with self._lock:
            self._upcasters[(name, from_version)] = function

    def current(self, name: str) -> type[Message] | None:
        """The class that reads ``name`` today (its highest registered version)."""
        return self._current.get(name)

    def get(self, name: str, version: int) -> type[Message] | None:
        """The class registered exactly as (``name``, ``version``), if any."""
        return self._classes.get((name, version))

    def names(self) -> list[str]:
        """Every registered type name, sorted."""
        return sorted(self._current)

    def decode(
        self,
        name: str,
        version: int,
        data: str | bytes,
        *,
        position: int | None = None,
        stream_id: str | None = None,
    ) -> Message:
        """Decode stored JSON of (``name``, ``version``) into the current typed message.

        Older versions pass through the upcaster chain (v1 -> v2 -> v3) first.

        Raises:
            UnknownMessageTypeError: no class reads that name, the version is newer than
                the code, or a link of the upcaster chain is missing.
            UpcastError: an upcaster raised.
            InvalidMessageError: the data does not fit the class; names each field.

        """
        cls = self._current.get(name)
        if cls is None:
            raise UnknownMessageTypeError(name, version, position=position, stream_id=stream_id)
        if version == cls.message_version:
            try:
                return cls.model_validate_json(data)
            except ValidationError as error:
                raise InvalidMessageError(
                    name, describe_validation_error(error), position=position, stream_id=stream_id
                ) from error
        payload = self._upcast(cls, name, version, data, position, stream_id)
        try:
            return cls.model_validate(payload)
        except ValidationError as error:
            raise InvalidMessageError(
                name, describe_validation_error(error), position=position, stream_id=stream_id
            ) from error

    def _upcast(
        self,
        cls: type[Message],
        name: str,
        version: int,
        data: str | bytes,
        position: int | None,
        stream_id: str | None,
    ) -> dict[str, Any]:
        target = cls.message_version
        if version > target:
            raise UnknownMessageTypeError(
                name,
                version,
                position=position,
                stream_id=stream_id,
                reason=f"the newest version this code knows is {target}",
            )
        try:
            payload: dict[str, Any] = json.loads(data)
        except ValueError as error:
            raise InvalidMessageError(
                name, [f"(message): not JSON: {error}"], position=position, stream_id=stream_id
            ) from error
        except RecursionError:  # json.loads of [[[[...: Python's stack, not the data's fault
            raise InvalidMessageError(
                name, ["(message): nested too deeply to read"], position=position,
                stream_id=stream_id,
            ) from None
        for step in range(version, target):
            function = self._upcasters.get((name, step))
            if function is None:
                raise UnknownMessageTypeError(
                    name,
                    version,
                    position=position,
                    stream_id=stream_id,
                    reason=f"no upcaster from version {step} to {step + 1}",
                )
            try:
                payload = function(payload)
            except Exception as error:
                raise UpcastError(
                    name, step, f"{type(error).__name__}: {error}", position=position,
                    stream_id=stream_id,
                ) from error
            if not isinstance(payload, dict):
                raise UpcastError(
                    name, step, f"returned {type(payload).__name__}, not a dict",
                    position=position, stream_id=stream_id,
                )
        return payload


registry = Registry()
"""The process-wide registry every message class registers into."""


def upcaster(name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the decorated function as the upcaster of ``name`` from ``from_version``.

    Example::

        @upcaster("OrderPlaced", from_version=1)
        def add_currency(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "currency": "EUR"}
    """

    def decorate(function: Upcaster) -> Upcaster:
        registry.add_upcaster(name, from_version, function)
        return function

    return decorate
