"""Every registered message type, fed arbitrary JSON-ish input: a valid message or a typed error.

``Registry.decode`` is what reads every record back, and what import and the history
tools trust: whatever a record's data holds, the caller gets a message of the type named
or a :class:`MessageError` (never a pydantic, json or recursion error). A message it does
give back encodes (or is refused as unportable) and decodes again to itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from pydantic import Field

import sagalog.events.etl
import sagalog.events.jobs
import sagalog.events.master
import sagalog.events.orders
import sagalog.events.pipeline
import sagalog.events.runtime
import sagalog.events.sagas  # noqa: F401 - each module registers its catalogue of messages
from sagalog.events import (
    Event,
    Message,
    MessageError,
    UnknownMessageTypeError,
    UnportableValueError,
    encode,
    registry,
    upcaster,
)
from tests.adversarial.conftest import PROPERTY_TIMEOUT
from tests.adversarial.strategies import field_dicts, hostile_text, json_texts, json_values, spell

# st.builds warns that it cannot honour pydantic's regex patterns; the data is checked anyway.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")


class AdversarialProbe(Event, name="AdversarialProbe", version=3):
    """A type with two upcasters (1 -> 2 -> 3), so old versions take the upcast path."""

    label: str
    amount: int
    extra: dict[str, Any] = Field(default_factory=dict)


@upcaster("AdversarialProbe", from_version=1)
def _name_to_label(data: dict[str, Any]) -> dict[str, Any]:
    return {("label" if key == "name" else key): value for key, value in data.items()}


@upcaster("AdversarialProbe", from_version=2)
def _add_amount(data: dict[str, Any]) -> dict[str, Any]:
    return {"amount": 0, **data}


TYPE_NAMES = registry.names()
"""Every type in the catalogue (checked below to hold the built-in workflows' types)."""


def test_the_catalogue_is_loaded() -> None:
    """The properties below cover the built-in workflows' types, not an empty registry."""
    for name in ("OrderPlaced", "JobSubmitted", "PipelineStarted", "AdversarialProbe"):
        assert name in TYPE_NAMES, name
    assert len(TYPE_NAMES) > 50


def _fields(name: str) -> list[str]:
    cls = registry.current(name)
    assert cls is not None
    return list(cls.model_fields)


def _shaped(cls: type[Message]) -> st.SearchStrategy[Message]:
    return st.builds(cls)


@st.composite
def valid_data(draw: st.DrawFn, cls: type[Message]) -> dict[str, Any] | None:
    """The JSON of a message hypothesis builds from the class's fields, or None.

    ``st.builds`` reads the field types; it cannot honour regex patterns or ``Any``, so
    for some types it fails, and the caller falls back to field-shaped dicts.
    """
    try:
        message = draw(_shaped(cls))
    except Exception:
        return None
    data: dict[str, Any] = json.loads(message.__pydantic_serializer__.to_json(message))
    return data


@st.composite
def mutated(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with one field replaced, dropped or added, or as it is."""
    how = draw(st.sampled_from(("keep", "keep", "replace", "drop", "add")))
    if how == "keep" or (not data and how != "add"):
        return data
    key = draw(st.sampled_from(sorted(data))) if data and how != "add" else draw(hostile_text)
    changed = dict(data)
    if how == "drop":
        changed.pop(key, None)
    else:
        changed[key] = draw(json_values)
    return changed


@st.composite
def records(draw: st.DrawFn) -> tuple[str, int, str | bytes]:
    """(type, version, data): a built message's data (often changed), or any JSON-ish text."""
    name = draw(st.sampled_from(TYPE_NAMES))
    cls = registry.current(name)
    assert cls is not None
    version = cls.message_version
    if draw(st.integers(0, 4)) == 0:  # an old version (the upcast path), or a newer one
        version = draw(st.integers(min_value=-2, max_value=cls.message_version + 2))
    built = draw(valid_data(cls)) if draw(st.integers(0, 3)) else None
    if built is not None:
        text = spell(draw(mutated(built)), ascii_only=draw(st.booleans()))
    else:
        text = draw(st.builds(spell, field_dicts(_fields(name)), ascii_only=st.booleans())
                    | json_texts)
    data: str | bytes = text
    if draw(st.integers(0, 9)) == 0:
        data = text.encode("utf-8", "surrogatepass")  # raw lone surrogates: not UTF-8
    return name, version, data


def _check_round_trip(message: Message, name: str) -> None:
    cls = registry.current(name)
    assert type(message) is cls
    try:
        text = encode(message)
    except UnportableValueError:
        return  # refused before any write: typed, and nothing stored
    again = registry.decode(name, cls.message_version, text)
    assert again == message


@pytest.mark.timeout(PROPERTY_TIMEOUT)
@given(records())
@example(("AdversarialProbe", 1, "[" * 50_000 + "]" * 50_000))
@example(("AdversarialProbe", 2, b'{"label": "\xed\xa0\x80"}'))
@example(("AdversarialProbe", 1, '{"name": "x", "extra": {"n": NaN}}'))
@example(("OrderPlaced", 1, '{"order_id": "1", "product_id": "p", "amount_cents": 1e400}'))
def test_decoding_gives_a_message_or_a_message_error(record: tuple[str, int, str | bytes]) -> None:
    """Any data under any registered type: a message of that type, or MessageError."""
    name, version, data = record
    try:
        message = registry.decode(name, version, data, position=7, stream_id="s")
    except MessageError as error:
        refused: MessageError = error
    else:
        event("decoded")
        _check_round_trip(message, name)
        return
    event(f"refused: {type(refused).__name__}")
    assert name in str(refused)  # the error names the type it could not read


@pytest.mark.timeout(PROPERTY_TIMEOUT)
@given(st.text(max_size=30), st.integers(min_value=-5, max_value=5), json_texts)
def test_an_unknown_type_is_an_unknown_type_error(name: str, version: int, data: str) -> None:
    """A name no class reads is refused by name, whatever its data."""
    if registry.current(name) is not None:
        return
    with pytest.raises(UnknownMessageTypeError) as raised:
        registry.decode(name, version, data)
    assert raised.value.type == name
