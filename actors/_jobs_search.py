"""Search indexers: the adapter protocol, and the built-in full-text index on SQLite FTS5.

A default job's documents are indexed once its data-pipeline run succeeded. Each
indexer is an adapter behind :class:`IndexerProtocol`, called with the idempotency key
of the command (its event id) and the index path the command carries. The built-in
:class:`Fts5Indexer` writes the documents to an FTS5 table and records the run in
``index_runs`` in the same transaction, so a re-run after a crash adds nothing twice;
:func:`search` queries the index.

Hazard: an FTS5 table cannot have a unique constraint; duplicates would be visible as a
second row with the same ``(job_id, doc_id)``, which is what the crash test counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sagalog.actors._jobs_sqlite import connect, transaction, translated
from sagalog.events.jobs import Document

__all__ = ["FTS5_INDEXER", "Fts5Indexer", "IndexerProtocol", "SearchHit", "indexed", "search"]

FTS5_INDEXER = "fts5"
"""The built-in indexer's name in the configuration."""

SCHEMA = (
    ("CREATE VIRTUAL TABLE IF NOT EXISTS documents USING fts5("
     "job_id UNINDEXED, doc_id UNINDEXED, title, body, tokenize = 'porter unicode61')"),
    """CREATE TABLE IF NOT EXISTS index_runs (
        id INTEGER PRIMARY KEY,
        command_id TEXT NOT NULL,
        indexer TEXT NOT NULL,
        job_id TEXT NOT NULL,
        documents INTEGER NOT NULL,
        recorded_at TEXT NOT NULL
    )""",
    # Not UNIQUE, on purpose: see the module docstring.
    "CREATE INDEX IF NOT EXISTS index_runs_by_command ON index_runs (command_id, indexer)",
)


class IndexerProtocol(Protocol):
    """A search indexer: index a job's documents, once per key."""

    def index(self, key: str, search_index: str, job_id: str,
              documents: Sequence[Document]) -> int:
        """Index ``documents`` (idempotent per ``key``); return how many are indexed."""
        ...


class Fts5Indexer:
    """The built-in indexer: a real full-text index in the SQLite file ``search_index``."""

    name = FTS5_INDEXER

    def index(self, key: str, search_index: str, job_id: str,
              documents: Sequence[Document]) -> int:
        """Insert the documents and record the run, in one transaction, unless ``key`` ran."""
        with connect(search_index, SCHEMA) as connection, transaction(
            connection, search_index, "indexing"
        ) as db:
            found = db.execute(
                "SELECT documents FROM index_runs WHERE command_id = ? AND indexer = ? "
                "ORDER BY id LIMIT 1", (key, self.name),
            ).fetchone()
            if found is not None:
                return int(found[0])
            db.executemany(
                "INSERT INTO documents (job_id, doc_id, title, body) VALUES (?, ?, ?, ?)",
                [(job_id, document.id, document.title, document.body) for document in documents],
            )
            db.execute(
                "INSERT INTO index_runs (command_id, indexer, job_id, documents, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, self.name, job_id, len(documents), datetime.now(UTC).isoformat()),
            )
        return len(documents)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One document found by :func:`search`, best first."""

    job_id: str
    doc_id: str
    title: str
    snippet: str
    """The matching text, with the terms marked ``[like this]``."""


def search(search_index: str | Path, query: str, limit: int = 10) -> list[SearchHit]:
    """Full-text search of the index (FTS5 query syntax), best match first.

    Raises:
        JobsDatabaseError: the file cannot be read, or the query is not valid FTS5.

    """
    with connect(search_index, SCHEMA) as connection, translated(search_index, "searching"):
        rows = connection.execute(
            "SELECT job_id, doc_id, title, snippet(documents, 3, '[', ']', '...', 12) "
            "FROM documents WHERE documents MATCH ? ORDER BY rank LIMIT ?", (query, limit),
        ).fetchall()
    return [SearchHit(*row) for row in rows]


def indexed(search_index: str | Path) -> list[tuple[str, str]]:
    """Every ``(job_id, doc_id)`` in the index, one per row (duplicates show twice)."""
    with connect(search_index, SCHEMA) as connection, translated(search_index, "a read"):
        rows = connection.execute(
            "SELECT job_id, doc_id FROM documents ORDER BY job_id, doc_id"
        ).fetchall()
    return [(str(job_id), str(doc_id)) for job_id, doc_id in rows]
