"""Phase 1 of the data pipeline: collect and check the sources, keep a backup, heal by rollback.

Layout under ``default_dir/DataCollector``: ``newest/`` holds the collected dataset (one
``<source>.json`` per source and a ``_manifest.json`` written last), ``backup/`` the last
good dataset before this run. A run copies a complete ``newest`` to ``backup``, removes
the manifest (so a half-written ``newest`` is never taken for a good one), then writes
each valid source. If any source fails, ROLLBACK_TO_BACKUP puts ``backup`` back as
``newest``, for real; without a backup the partial output is removed and the rollback
is FAILED.

Crash safety: the manifest names the command's event id, so a re-run of a command whose
collection completed answers from the manifest; a re-run of an interrupted one finds no
manifest and keeps the backup it made before (it never backs up a partial ``newest``).
Each collection holds ``DataCollector.lock`` beside the directory (see
:mod:`._pipeline_lock`), so a second handler of the same command waits, then answers from
the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from sagalog.actors._pipeline_lock import phase_lock
from sagalog.actors._pipeline_schema import SchemaFileError, TableSpec, check_source, read_schemas
from sagalog.events.pipeline import CollectData, CollectorFinished, HealingAction, PhaseError

__all__ = ["COLLECTOR_AGENT", "DataCollector", "write_json_atomically"]

COLLECTOR_AGENT = "DataCollector"
MANIFEST = "_manifest.json"


def write_json_atomically(path: Path, value: object) -> None:
    """Write ``value`` as JSON so that ``path`` is either the old file or the whole new one."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as file:
        json.dump(value, file, indent=1, sort_keys=True)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _replace_tree(source: Path, target: Path) -> None:
    """Make ``target`` a copy of ``source``: copied aside first, then swapped in."""
    staging = target.with_name(f".{target.name}.copy")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


@dataclass
class _Run:
    """One collection in progress."""

    command: CollectData
    key: str
    newest: Path
    backup: Path
    started: float = field(default_factory=time.monotonic)
    errors: list[PhaseError] = field(default_factory=list)
    warnings: int = 0
    successful: int = 0
    failed: int = 0
    changed: int = 0
    saved: int = 0
    rows: int = 0
    hashes: dict[str, str] = field(default_factory=dict)


class DataCollector:
    """The collector adapter: :meth:`collect` does phase 1 for one command, idempotently."""

    def collect(self, command: CollectData, key: str) -> CollectorFinished:
        """Collect the sources of ``command`` (``key``: the command's event id)."""
        out = Path(command.config.default_dir) / COLLECTOR_AGENT
        run = _Run(command, key, out / "newest", out / "backup")
        out.parent.mkdir(parents=True, exist_ok=True)
        with phase_lock(out, key, actor=COLLECTOR_AGENT, saga=command.run_id):
            return self._collect_once(run)

    def _collect_once(self, run: _Run) -> CollectorFinished:
        """The collection, with the output's lock held: answered from the manifest if done."""
        command, key, config = run.command, run.key, run.command.config
        log = logger.bind(actor=COLLECTOR_AGENT, saga=command.run_id)
        done = _read_manifest(run.newest)
        if done is not None and done.get("event_id") == key:
            log.info("collection {} already done; answering from its manifest", key)
            return CollectorFinished.model_validate(done["result"])
        self._back_up(run)
        try:
            tables = read_schemas(Path(config.databaseSchemas_path))
        except SchemaFileError as error:
            run.errors.append(PhaseError(data_type="databaseSchemas", error_type="SCHEMA_ERROR",
                                         error_message=str(error)))
            return self._fail(run, total=0)
        previous = _read_manifest(run.backup) or {}
        for table in tables:
            self._collect_one(run, table, previous.get("hashes", {}))
        if run.errors:
            return self._fail(run, total=len(tables))
        result = self._result(run, len(tables), "success", None, ())
        write_json_atomically(run.newest / MANIFEST, {
            "event_id": key, "run_id": command.run_id, "hashes": run.hashes,
            "result": result.model_dump(mode="json"),
        })
        log.info("collected {} sources, {} rows", len(tables), run.rows)
        return result

    def _back_up(self, run: _Run) -> None:
        """Keep the last good dataset; then mark ``newest`` as being rewritten."""
        if _read_manifest(run.newest) is not None:
            _replace_tree(run.newest, run.backup)
            (run.newest / MANIFEST).unlink()
        run.newest.mkdir(parents=True, exist_ok=True)

    def _collect_one(self, run: _Run, table: TableSpec, previous: dict[str, str]) -> None:
        source = Path(run.command.config.dynamic_db_source_dir) / table.file
        try:
            data = source.read_bytes()
        except OSError as error:
            run.failed += 1
            kind = "FILE_NOT_FOUND" if isinstance(error, FileNotFoundError) else "READ_ERROR"
            run.errors.append(PhaseError(data_type=table.name, error_type=kind,
                                         error_message=f"{source}: {error.strerror}"))
            return
        digest = hashlib.sha256(data).hexdigest()
        run.hashes[table.name] = digest
        run.changed += previous.get(table.name) != digest
        check = check_source(table, data)
        run.warnings += len(check.warnings)
        if check.errors:
            run.failed += 1
            for kind, message in check.errors:
                run.errors.append(PhaseError(data_type=table.name, error_type=kind,
                                             error_message=message))
            return
        write_json_atomically(run.newest / f"{table.name}.json",
                              {"table": table.name, "columns": list(table.columns),
                               "rows": check.rows})
        run.successful += 1
        run.saved += 1
        run.rows += len(check.rows)

    def _fail(self, run: _Run, total: int) -> CollectorFinished:
        """ROLLBACK_TO_BACKUP: the last good dataset becomes ``newest`` again, for real."""
        log = logger.bind(actor=COLLECTOR_AGENT, saga=run.command.run_id)
        if (run.backup / MANIFEST).exists():
            _replace_tree(run.backup, run.newest)
            rollback = HealingAction(scale="local", status="SUCCESS",
                                     detail=f"restored {run.newest} from {run.backup}")
            log.warning("collection failed; the last good dataset was restored")
        else:
            shutil.rmtree(run.newest, ignore_errors=True)
            rollback = HealingAction(scale="local", status="FAILED",
                                     detail=f"no backup in {run.backup}; partial output removed")
            log.error("collection failed and there is no backup to roll back to")
        run.errors = [error.model_copy(update={"recovery_actions": (rollback,)})
                      for error in run.errors]
        return self._result(run, total, "failed", rollback.status, (rollback,))

    def _result(self, run: _Run, total: int, status: str, rollback: str | None,
                healing: tuple[HealingAction, ...]) -> CollectorFinished:
        return CollectorFinished.model_validate({
            "run_id": run.command.run_id, "agent": COLLECTOR_AGENT, "status": status,
            "total": total, "successful": run.successful, "failed": run.failed,
            "warnings": run.warnings, "changed_files": run.changed, "files_saved": run.saved,
            "rows": run.rows, "errors": run.errors, "healing_actions": healing,
            "output_paths": (str(run.newest.parent),), "rollback_status": rollback,
            "duration_s": time.monotonic() - run.started,
        })
