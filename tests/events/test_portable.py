from __future__ import annotations

import json

import pytest

from sagalog.events import UnportableValueError, encode
from tests.support import Note


def test_nul_character_is_refused() -> None:
    """A NUL character anywhere in the data is refused (PostgreSQL text cannot hold it)."""
    with pytest.raises(UnportableValueError, match="NUL"):
        encode(Note(text="a\x00b"))
    with pytest.raises(UnportableValueError, match="NUL"):
        encode(Note(text="ok", extra={"deep": ["x\x00"]}))


def test_text_that_spells_a_nul_escape_is_accepted() -> None:
    """The six characters backslash-u-0-0-0-0 are ordinary text, not a NUL."""
    text = encode(Note(text="C:\\u0000 is a path, not a NUL"))
    assert json.loads(text)["text"] == "C:\\u0000 is a path, not a NUL"


def test_nan_and_infinity_in_untyped_fields_are_refused() -> None:
    """NaN and Infinity smuggled through an untyped field are refused, not stored as null."""
    with pytest.raises(UnportableValueError, match="NaN"):
        encode(Note(text="x", extra={"ratio": float("nan")}))
    with pytest.raises(UnportableValueError, match="Infinity"):
        encode(Note(text="x", extra={"ratio": float("-inf")}))


def test_words_nan_and_infinity_inside_strings_are_fine() -> None:
    """The words NaN and Infinity inside strings are data, not numbers."""
    text = encode(Note(text="NaN and Infinity", extra={"NaN": "Infinity"}))
    assert json.loads(text)["extra"] == {"NaN": "Infinity"}


def test_lone_surrogate_is_refused() -> None:
    """A lone surrogate cannot be encoded as UTF-8 and is refused with a clear error."""
    with pytest.raises(UnportableValueError, match="surrogate"):
        encode(Note(text="\ud800"))


def test_unicode_round_trips() -> None:
    """Ordinary unicode, quotes and percent signs encode unchanged."""
    original = "naïve 'quoted' \"double\" 100% _under_ 日本 🎉"
    assert json.loads(encode(Note(text=original)))["text"] == original
