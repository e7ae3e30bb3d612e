"""The store's layering, read from the source: who may talk SQL, and what the store knows.

Only the SQLite backend (``store/sqlite/``) imports ``sqlite3`` or ``aiosqlite``: the
runtime, the sagas, the history tools and the command line speak the store contract. The
exceptions are the demo adapters whose job is to change SQLite databases of the outside
world (a ledger of effects, a jobs database, a pipeline's target), each named here with
why. The store names no saga type: what a run's status is comes from the hooks.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("events", "store", "actors", "sagas")

OUTSIDE_WORLD = {
    "actors/_ledger.py": "the demo adapters' ledger of effects, a database of its own",
    "actors/_local_db.py": "opens the demo workflows' own SQLite databases",
    "actors/_jobs_sqlite.py": "the job router's jobs database (status table, search index)",
    "actors/_jobs_db.py": "the job router's jobs database (status table, search index)",
    "actors/_master_actions.py": "the master pipeline's actions load CSV into a target database",
    "actors/_master_effects.py": "the master pipeline's once-only effects, in the target database",
    "actors/_master_monitoring.py": "the monitoring table the master pipeline writes",
    "actors/_pipeline_loader.py": "the data pipeline's loader backs up and loads a target database",
}
"""Modules outside the backend allowed to import sqlite3, and why: each changes a database
that is not the log."""


def imported_modules(path: Path) -> set[str]:
    """The top-level names of every module ``path`` imports (also inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def sources() -> list[Path]:
    """Every module of the four packages, and the command line."""
    found = [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")]
    return [*found, ROOT / "run.py"]


def test_only_the_sqlite_backend_and_outside_world_adapters_import_sqlite3() -> None:
    """The runtime, sagas, history tools and CLI reach SQLite only through the store."""
    offenders = []
    for path in sources():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("store/sqlite/") or relative in OUTSIDE_WORLD:
            continue
        if imported_modules(path) & {"sqlite3", "aiosqlite"}:
            offenders.append(relative)
    assert offenders == []


def test_every_outside_world_exception_still_needs_it() -> None:
    """An exception that no longer imports sqlite3 is removed from the list, not kept."""
    unused = [name for name in OUTSIDE_WORLD
              if "sqlite3" not in imported_modules(ROOT / name)]
    assert unused == []


def test_the_store_names_no_saga_type() -> None:
    """What a status is comes from the hooks: no saga message type appears in store/."""
    from sagalog.events import registry
    from sagalog.sagas.catalog import DEFINITIONS  # noqa: F401 - registers every workflow

    saga_types = {name for name in registry.names()
                  if name.startswith(("Saga", "Retry", "Step", "ManualReview"))}
    assert "SagaDecided" in saga_types
    mentions = []
    for path in (ROOT / "store").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        mentions += [f"{path.relative_to(ROOT)}: {name}" for name in saga_types
                     if f'"{name}"' in text or f"'{name}'" in text]
    assert mentions == []
