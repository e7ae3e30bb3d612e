from __future__ import annotations

import pytest

from sagalog.events import (
    Command,
    DuplicateMessageTypeError,
    Event,
    InvalidMessageError,
    Message,
    UnknownMessageTypeError,
    registry,
)
from tests.support import Deposited, OpenAccount


def test_subclass_registers_under_class_name_version_1() -> None:
    """A plain subclass is registered under its class name with version 1."""

    class PlainThingHappened(Event):
        n: int

    assert PlainThingHappened.message_type == "PlainThingHappened"
    assert PlainThingHappened.message_version == 1
    assert registry.get("PlainThingHappened", 1) is PlainThingHappened


def test_declared_name_and_version_survive_a_rename() -> None:
    """A class can declare a stable name and a higher version, independent of its own name."""

    class RenamedLater(Event, name="test.StableName", version=3):
        n: int

    assert RenamedLater.message_type == "test.StableName"
    assert registry.current("test.StableName") is RenamedLater
    assert registry.get("test.StableName", 3) is RenamedLater


def test_two_classes_claiming_one_name_and_version_fail_at_definition() -> None:
    """A second class claiming a taken name/version raises at class definition."""
    with pytest.raises(DuplicateMessageTypeError, match=r"test\.Deposited.*version 1"):

        class Impostor(Event, name="test.Deposited"):
            n: int


def test_abstract_base_is_not_registered() -> None:
    """A base that only shares fields says abstract=True and stays out of the registry."""

    class AccountEvent(Event, abstract=True):
        account: str

    class AccountClosed(AccountEvent, name="test.AccountClosed"):
        reason: str

    assert registry.current("AccountEvent") is None
    assert AccountClosed(account="a", reason="r").account == "a"


def test_messages_are_frozen_and_refuse_unknown_fields() -> None:
    """Messages cannot be changed after construction and refuse fields they do not declare."""
    event = Deposited(account="a", amount=1)
    with pytest.raises(Exception, match="frozen"):
        event.amount = 2  # type: ignore[misc]
    with pytest.raises(Exception, match="Extra inputs are not permitted"):
        Deposited(account="a", amount=1, colour="red")  # type: ignore[call-arg]


def test_events_and_commands_say_their_kind() -> None:
    """An Event is a fact and a Command a request; both are Messages."""
    assert Deposited.message_kind == "event"
    assert OpenAccount.message_kind == "command"
    assert issubclass(OpenAccount, Command)
    assert issubclass(Deposited, Message)


def test_version_must_be_a_positive_integer() -> None:
    """A version below 1 is refused when the class is defined."""
    with pytest.raises(TypeError, match="version must be an integer >= 1"):

        class Bad(Event, version=0):
            n: int


def test_nan_and_infinity_are_refused_at_construction() -> None:
    """Float fields refuse NaN and Infinity, which JSON cannot represent."""

    class Measured(Event, name="test.Measured"):
        value: float

    with pytest.raises(Exception, match="finite number"):
        Measured(value=float("nan"))
    with pytest.raises(Exception, match="finite number"):
        Measured(value=float("inf"))


def test_decode_of_unknown_type_names_position_stream_and_type() -> None:
    """Decoding an unregistered type raises a typed error naming where it was found."""
    with pytest.raises(UnknownMessageTypeError) as caught:
        registry.decode("test.NoSuchType", 1, "{}", position=812, stream_id="order-9")
    assert caught.value.position == 812
    assert caught.value.stream_id == "order-9"
    assert caught.value.type == "test.NoSuchType"
    assert "position 812" in str(caught.value)
    assert "'order-9'" in str(caught.value)


def test_decode_of_newer_version_than_the_code_is_refused() -> None:
    """A stored version newer than the class is an unknown version, not a crash."""
    with pytest.raises(UnknownMessageTypeError, match="newest version this code knows is 1"):
        registry.decode("test.Deposited", 7, '{"account":"a","amount":1}', position=3)


def test_decode_of_invalid_data_names_the_field() -> None:
    """Data that does not fit the type names the bad field; no pydantic error escapes."""
    with pytest.raises(InvalidMessageError) as caught:
        registry.decode("test.Deposited", 1, '{"account":"a","amount":"lots"}', position=5)
    assert caught.value.errors[0].startswith("amount:")
    assert "position 5" in str(caught.value)
    assert not isinstance(caught.value, ValueError)


def test_decode_of_text_that_is_not_json_is_a_typed_error() -> None:
    """Malformed JSON is an InvalidMessageError, not a pydantic traceback."""
    with pytest.raises(InvalidMessageError, match=r"test\.Deposited"):
        registry.decode("test.Deposited", 1, "{not json", position=1)
