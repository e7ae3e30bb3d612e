"""Import of arbitrary JSON Lines files: all or nothing, typed errors only, the log verifies.

The file is what a user hands ``sagalog import``: an export, one edited by hand, or one
another program wrote. Each example writes a file of lines (an exported record, one
with a field changed, or text that is no record at all, with U+2028, NUL, escaped and
raw lone surrogates, deep nesting, huge numbers and NaN/Infinity among them) and
imports it into a log that already holds records. The import either appends the
file's new records, or raises a :class:`SagalogError` and leaves the log exactly as it
was; either way the log's hash chain verifies afterwards.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from pydantic import Field

from sagalog.events import Event, SagalogError, registry
from sagalog.store import EventStoreProtocol, import_file, open_store
from tests.adversarial.conftest import PROPERTY_TIMEOUT
from tests.adversarial.strategies import hostile_text, json_values

_names = itertools.count()


class ImportProbe(Event, name="AdversarialImportProbe"):
    """A record with a field of each JSON shape, for the import property."""

    text: str
    number: float
    count: int
    extra: dict[str, Any] = Field(default_factory=dict)


SEED_EVENT_ID = uuid.UUID(int=1)
"""The event id of the record every log holds before the import (a line may reuse it)."""
STREAMS = ("s-1", "s-2", "seeded")


def _seed(store: EventStoreProtocol) -> None:
    store.append("seeded", [ImportProbe(text="before", number=1.5, count=1)],
                 event_ids=[SEED_EVENT_ID])


clean_text = st.text(alphabet="abc \u00e9\u2028\U0001f600", min_size=1, max_size=6)
"""Text every log stores (U+2028 and an astral character among it)."""
texts = st.one_of(clean_text, clean_text, clean_text, hostile_text)
streams = st.one_of(st.sampled_from(STREAMS), st.sampled_from(STREAMS), hostile_text)
numbers = st.one_of(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(),
                    st.sampled_from((1e400, 10**30)))
counts = st.one_of(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(),
                   st.sampled_from((10**30, 1.5, True)))
event_ids = st.integers(min_value=2, max_value=2**128 - 1).map(lambda n: str(uuid.UUID(int=n)))
extras = st.dictionaries(clean_text, json_values, max_size=2)
KINDS = ("record", "record", "record", "record", "changed", "text", "deep", "blank")
DEPTHS = (10, 900, 5_000, 200_000)


@st.composite
def records(draw: st.DrawFn, versions: dict[str, int], *, hostile: bool) -> dict[str, Any]:
    """An export line's record; its stream version follows ``versions`` (mostly).

    Not ``hostile``: a record any log takes (text with U+2028 and astral characters).
    """
    stream = draw(streams if hostile else st.sampled_from(STREAMS))
    version = versions.get(stream, 1 if stream != "seeded" else 2)
    if hostile and draw(st.integers(0, 9)) == 0:
        version = draw(st.integers(min_value=-1, max_value=4))
    versions[stream] = version + 1
    event_id = draw(event_ids)
    if hostile and draw(st.integers(0, 9)) == 0:
        event_id = str(SEED_EVENT_ID)
    data = {"text": draw(texts if hostile else clean_text),
            "number": draw(numbers if hostile else st.floats(-1e6, 1e6)),
            "count": draw(counts if hostile else st.integers(-1000, 1000))}
    if hostile and draw(st.integers(0, 3)) == 0:
        data["extra"] = draw(extras)
    return {
        "position": draw(st.integers(min_value=1, max_value=100)), "stream_id": stream,
        "stream_version": version, "event_id": event_id,
        "type": "AdversarialImportProbe", "version": 1,
        "recorded_at": "2026-01-01T00:00:00+00:00",
        "correlation_id": None if draw(st.booleans()) else draw(texts if hostile else clean_text),
        "causation_id": None, "data": data,
    }


@st.composite
def changed(draw: st.DrawFn, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with one envelope field replaced by any JSON value, or dropped."""
    key = draw(st.sampled_from(sorted(record)))
    out = dict(record)
    if draw(st.booleans()):
        del out[key]
    else:
        out[key] = draw(json_values)
    return out


@st.composite
def files(draw: st.DrawFn) -> bytes:
    """A JSON Lines file: records, changed records, hostile text, deep nesting, blanks."""
    versions: dict[str, int] = {}
    lines = []
    hostile = draw(st.booleans())  # else a file any log takes: all or nothing either way
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        kind = draw(st.sampled_from(KINDS if hostile else ("record", "record", "blank")))
        if kind in ("record", "changed"):
            record = draw(records(versions, hostile=hostile))
            if kind == "changed":
                record = draw(changed(record))
            lines.append(json.dumps(record, ensure_ascii=draw(st.booleans()), allow_nan=True))
        elif kind == "text":
            lines.append(draw(hostile_text))
        elif kind == "deep":
            depth = draw(st.sampled_from(DEPTHS))
            lines.append('{"data":' + "[" * depth + "]" * depth + "}")
        else:
            lines.append(draw(st.sampled_from(("", " ", "\t", "\r"))))
    text = "\n".join(lines) + draw(st.sampled_from(("", "\n", "\r\n")))
    return text.encode("utf-8", "surrogatepass")


@contextmanager
def _file(content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="sagalog-adv-") as folder:
        path = Path(folder, "import.jsonl")
        path.write_bytes(content)
        yield path


def _check_import(target: str, store: EventStoreProtocol, content: bytes) -> None:
    before = store.read_raw(1, 10_000)
    with _file(content) as path:
        try:
            result = import_file(target, path, registry)
        except SagalogError as error:
            event(f"refused: {type(error).__name__}")
            assert store.read_raw(1, 10_000) == before, "a refused import changed the log"
        else:
            after = store.read_raw(1, 10_000)
            assert after[: len(before)] == before
            assert len(after) == len(before) + result.added
            assert result.added <= result.lines
            event(f"imported: {min(result.added, 2)}+ records")
    report = store.verify()
    assert report.ok, report


LINE = {"position": 1, "stream_id": "s-1", "stream_version": 1,
        "event_id": "00000000-0000-0000-0000-000000000002", "type": "AdversarialImportProbe",
        "version": 1, "recorded_at": "x", "correlation_id": None, "causation_id": None,
        "data": {"text": "a\u2028b", "number": 1.0, "count": 1}}
"""A valid line, the base of the explicit examples below."""


def _line(**changes: object) -> str:
    return json.dumps({**LINE, **changes}, ensure_ascii=False)


@pytest.mark.timeout(PROPERTY_TIMEOUT)
@given(files())
@example(_line().encode())
@example((_line() + "\n" + _line(stream_version=2, data={**LINE["data"], "text": "\x00"}))
         .encode())
@example(_line(data={"text": "\ud800", "number": 1.0, "count": 1}).encode("utf-8", "surrogatepass"))
@example(_line(data={"text": "a", "number": float("nan"), "count": 1}).encode())
@example(_line(data={"text": "a", "number": 1.0, "count": 1, "extra": {"n": float("inf")}})
         .encode())
@example(_line(version=10**30).encode())
@example(_line(stream_version=10**30).encode())
@example(_line(data="[" * 200_000 + "]" * 200_000).encode())
@example(_line(event_id=str(SEED_EVENT_ID), stream_id="seeded", stream_version=1).encode())
def test_an_import_into_memory_is_all_or_nothing_and_the_log_verifies(content: bytes) -> None:
    """Any file: its new records appended, or a typed error and the log unchanged."""
    target = f"memory:adversarial-import-{next(_names)}"
    with open_store(target) as store:
        _seed(store)
        _check_import(target, store, content)


_SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - mkdtemp in it
"""Where the logs go: a tmpfs where there is one, so 1,000 examples' fsyncs cost little."""


@pytest.mark.timeout(PROPERTY_TIMEOUT)
@given(files())
def test_an_import_into_sqlite_is_all_or_nothing_and_the_log_verifies(content: bytes) -> None:
    """The same on a real SQLite file (on a tmpfs where there is one: each opens a log)."""
    with tempfile.TemporaryDirectory(prefix="sagalog-adv-db-", dir=_SCRATCH) as folder:
        target = str(Path(folder, "log.db"))
        with open_store(target) as store:
            _seed(store)
            _check_import(target, store, content)
