"""A log restored from an export: its worker resumes where the exported log's stopped.

A worker runs N commands whose handler has an effect outside the log (a line in a
file, which the log cannot deduplicate); the log is exported and imported into a new
log, and a worker on the restored log must handle none of them again, only what comes
after.
"""

from __future__ import annotations

from pathlib import Path

from sagalog.actors import Actor, Runtime, VirtualClock, handles
from sagalog.events import Command, Envelope, Event, Message, registry
from sagalog.store import export_lines, import_file, open_store

COMMANDS = 12


class Charge(Command, name="test.restore.Charge"):
    n: int


class Charged(Event, name="test.restore.Charged"):
    n: int


class Charger(Actor):
    """Writes one line per command handled to ``effects``: what a double run repeats."""

    def __init__(self, effects: Path) -> None:
        super().__init__()
        self.effects = effects

    @handles(Charge)
    def charge(self, command: Charge, envelope: Envelope[Message]) -> Charged:
        with self.effects.open("a", encoding="utf-8") as file:
            file.write(f"{command.n}\n")
        return Charged(n=command.n)


def run_worker(db: Path, effects: Path, commands: range) -> None:
    """A worker on ``db`` with the charger; append ``commands``; wait until all are handled."""
    with Runtime(str(db), durability="off", clock=VirtualClock()) as runtime:
        runtime.add(Charger, effects)
        for n in commands:
            runtime.append(f"charge-{n}", [Charge(n=n)])
        assert runtime.wait_until_idle(30)


def effects_of(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_worker_on_a_log_restored_from_an_export_handles_nothing_again(
        tmp_path: Path) -> None:
    """Export, import into a new log, start a worker there: no handler runs for the
    commands already handled; a new command is handled once."""
    effects = tmp_path / "effects.txt"
    run_worker(tmp_path / "original.db", effects, range(COMMANDS))
    assert effects_of(effects) == list(range(COMMANDS))
    export = tmp_path / "backup.jsonl"
    with open_store(tmp_path / "original.db", read_only=True) as store:
        export.write_text("".join(f"{line}\n" for line in export_lines(store)))
        handled = store.checkpoint("Charger")

    result = import_file(tmp_path / "restored.db", export, registry)
    run_worker(tmp_path / "restored.db", effects, range(COMMANDS, COMMANDS + 1))

    assert effects_of(effects) == list(range(COMMANDS + 1))  # only the new command
    assert result.checkpoints >= 1
    assert result.checkpoints_left is None
    with open_store(tmp_path / "restored.db", read_only=True) as store:
        assert store.checkpoint("Charger") > handled
        assert store.verify().ok
        charged = [r.data.n for r in store.read_all(types=["test.restore.Charged"])]  # type: ignore[attr-defined]
    assert charged == list(range(COMMANDS + 1))
