"""Checkpoints across export and import (export format 2): written, checked, carried.

A whole export ends with one line per checkpoint; an import into an empty log moves
them in its own transaction, onto the positions the records take again; anywhere else
they are left, and the result says why. A file of format 1 (records only) imports as
before; a bad checkpoint line is refused with its line named, and nothing is imported.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagalog.events import Event, registry
from sagalog.store import ImportFileError, export_lines, import_file, open_store


class CarryProbe(Event, name="test.carry.Probe"):
    n: int


def write_log(path: Path, records: int, checkpoints: dict[str, int], prefix: str = "") -> None:
    """``records`` records on two streams, one per run (``r-0``, ``r-1``), alternating."""
    with open_store(path, durability="off") as store:
        for n in range(records):
            store.append(f"{prefix}s-{n % 2}", [CarryProbe(n=n)], correlation_id=f"r-{n % 2}")
        for name, position in checkpoints.items():
            store.set_checkpoint(name, position)


def export(path: Path, **options: object) -> list[dict[str, object]]:
    with open_store(path, read_only=True) as store:
        return [json.loads(line) for line in export_lines(store, **options)]  # type: ignore[arg-type]


def write_lines(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def exported(tmp_path: Path) -> list[dict[str, object]]:
    """A whole export of 7 records, checkpoints a at 3 and b at 7 (and c at 0: none)."""
    write_log(tmp_path / "a.db", 7, {"a": 3, "b": 7, "c": 0})
    return export(tmp_path / "a.db")


def test_a_whole_export_ends_with_its_checkpoints_and_a_partial_one_has_none(
        tmp_path: Path, exported: list[dict[str, object]]) -> None:
    """Each checkpoint line names the event id of the record at its position."""
    records, marks = exported[:7], exported[7:]
    assert marks == [
        {"kind": "checkpoint", "format": 2, "name": "a", "position": 3,
         "event_id": records[2]["event_id"]},
        {"kind": "checkpoint", "format": 2, "name": "b", "position": 7,
         "event_id": records[6]["event_id"]},
    ]
    assert "kind" not in exported[-3]
    assert all("kind" not in line for line in export(tmp_path / "a.db", from_position=2))
    assert all("kind" not in line
               for line in export(tmp_path / "a.db", keep=lambda record: True))


def test_an_import_into_an_empty_log_moves_the_checkpoints_with_the_records(
        tmp_path: Path, exported: list[dict[str, object]]) -> None:
    result = import_file(tmp_path / "b.db", write_lines(tmp_path / "x.jsonl", exported),
                         registry)

    assert result == (7, 7, 2, None)
    with open_store(tmp_path / "b.db", read_only=True) as store:
        assert store.checkpoints() == {"a": 3, "b": 7}
        assert [r.position for r in store.read_all()] == list(range(1, 8))
    assert export(tmp_path / "b.db")[7:] == exported[7:]  # the same records under them


def test_an_export_of_format_1_without_checkpoint_lines_still_imports(
        tmp_path: Path, exported: list[dict[str, object]]) -> None:
    result = import_file(tmp_path / "b.db", write_lines(tmp_path / "x.jsonl", exported[:7]),
                         registry)

    assert result == (7, 7, 0, None)
    with open_store(tmp_path / "b.db", read_only=True) as store:
        assert store.checkpoints() == {}


def test_checkpoints_are_not_carried_into_a_log_that_holds_records(
        tmp_path: Path, exported: list[dict[str, object]]) -> None:
    """Moving them there would skip that log's own unhandled record: they stay, and the
    result says why."""
    write_log(tmp_path / "b.db", 1, {}, prefix="own-")

    result = import_file(tmp_path / "b.db", write_lines(tmp_path / "x.jsonl", exported),
                         registry)

    assert (result.added, result.checkpoints) == (7, 0)
    assert result.checkpoints_left == ("the log already holds 1 records: checkpoints are "
                                       "carried only into an empty log")
    with open_store(tmp_path / "b.db", read_only=True) as store:
        assert store.checkpoints() == {}
        assert store.last_position() == 8


def test_checkpoints_of_a_file_that_is_not_a_whole_export_are_not_carried(
        tmp_path: Path, exported: list[dict[str, object]]) -> None:
    """One run's records (positions 1, 3, 5, 7) and the checkpoints of the whole log: the
    positions they name are not the ones the records take."""
    one_run = export(tmp_path / "a.db", keep=lambda record: record["correlation_id"] == "r-0")
    lines = one_run + exported[7:]

    result = import_file(tmp_path / "b.db", write_lines(tmp_path / "x.jsonl", lines), registry)

    assert (result.added, result.checkpoints) == (4, 0)
    assert result.checkpoints_left is not None
    assert "not a whole export" in result.checkpoints_left


@pytest.mark.parametrize(("change", "line", "reason"), [
    ({"event_id": "00000000-0000-0000-0000-000000000001"}, 8,
     ("checkpoint 'a' names event 00000000-0000-0000-0000-000000000001 at position 3, "
      "but the record there (line 3) is")),
    ({"position": 9}, 8, "checkpoint 'a' is at position 9, past the file's last record (7)"),
    ({"name": "b"}, 9, "checkpoint 'b' is also on line 8"),
    ({"format": 3}, 8, "written in export format 3, by a newer sagalog"),
    ({"format": None}, 8, "needs an integer 'format' >= 2, not None"),
    ({"kind": "snapshot"}, 8, "unknown line kind 'snapshot'"),
    ({"position": 0}, 8, "'position' must be an integer >= 1, not 0"),
    ({"event_id": "x"}, 8, "'event_id' must be a UUID, not 'x'"),
])
def test_a_bad_checkpoint_line_is_named_and_nothing_is_imported(
        tmp_path: Path, exported: list[dict[str, object]], change: dict[str, object],
        line: int, reason: str) -> None:
    lines = [*exported[:7], {**exported[7], **change}, exported[8]]
    path = write_lines(tmp_path / "x.jsonl", lines)

    with pytest.raises(ImportFileError, match=rf"x\.jsonl: line {line}: ") as caught:
        import_file(tmp_path / "b.db", path, registry)

    assert reason in str(caught.value)
    if (tmp_path / "b.db").exists():  # refused inside the transaction: rolled back
        with open_store(tmp_path / "b.db", read_only=True) as store:
            assert (store.last_position(), store.checkpoints()) == (0, {})
