"""The data pipeline's messages. Their registered names are the log format.

A run starts with :class:`PipelineStarted`, which carries the whole parsed configuration,
so a resume rebuilds every command from the log alone. Phase 1 (the collector) always
answers :class:`CollectorFinished`, whatever its status, because the decision matrix
needs its status and its rollback status to decide phase 2; phase 2 (the loader) answers
:class:`LoaderFinished` or :class:`LoaderFailed`. :class:`PipelineFinished` ends the run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sagalog.events._message import Command, Event

__all__ = [
    "PIPELINE_STATUSES",
    "CollectData",
    "CollectorFinished",
    "HealingAction",
    "LoadData",
    "LoaderFailed",
    "LoaderFinished",
    "ManualReviewReportWritten",
    "PhaseError",
    "PipelineConfig",
    "PipelineFinished",
    "PipelineStarted",
]

PIPELINE_STATUSES = ("success", "partial_success", "failed")
"""The note's overall statuses, best first."""

OverallStatus = Literal["success", "partial_success", "failed"]
PhaseStatus = Literal["success", "failed"]
ActionStatus = Literal["SUCCESS", "FAILED"]


class _Part(BaseModel):
    """A frozen value inside a message (not a message of its own)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PipelineConfig(_Part):
    """Where a run reads and writes, and who is told: the configuration file's fields.

    Every path is absolute once the configuration file has been read (relative paths in
    the file resolve against the file's directory). Field names are the file's keys.
    """

    dynamic_db_source_dir: str
    """Directory of the source files phase 1 collects."""
    databaseSchemas_path: str  # noqa: N815 - the note's (and the config file's) name
    """JSON file with each source's columns, types and required flags."""
    annotation_path: str
    """JSON file that tells phase 2 which collected file goes to which table."""
    default_dir: str
    """Shared output directory: the collector writes under ``DataCollector/`` here."""
    target_db_path: str
    """The SQLite database phase 2 loads into; its backup sits beside it."""
    report_dir: str
    """Where manual review reports go, one subdirectory per run."""
    recipient: str = "operations"
    """Who the manual review notification is sent to."""
    outbox_path: str = ""
    """JSON Lines file the default notification handler appends to ("" = report_dir's)."""


class HealingAction(_Part):
    """A recovery step that was taken, and how it ended (the report's action line)."""

    priority: str = "HIGH"
    action_name: str = "ROLLBACK_TO_BACKUP"
    scale: str
    """Where it acted: ``local`` (the collected files) or ``database`` (the target)."""
    status: ActionStatus
    detail: str = ""
    """What it did, in words (which backup, restored where)."""


class PhaseError(_Part):
    """One piece of data a phase could not handle, and the recovery tried for it."""

    data_type: str
    """The source or table that failed."""
    error_type: str
    """``FILE_NOT_FOUND``, ``PARSE_ERROR``, ``MISSING_COLUMN``, ``TYPE_MISMATCH``, ..."""
    error_message: str
    recovery_actions: tuple[HealingAction, ...] = ()


class PipelineStarted(Event, name="PipelineStarted"):
    """A run was asked for: the saga's start."""

    run_id: str
    config: PipelineConfig
    config_path: str
    """The configuration file it was read from (for people; the run uses ``config``)."""
    requested_at: datetime
    """When the run was asked for: the start of its duration."""


class _PipelineCommand(Command, abstract=True):
    run_id: str
    config: PipelineConfig


class CollectData(_PipelineCommand, name="CollectData"):
    """Phase 1: read and check every source, write the collected dataset."""


class LoadData(_PipelineCommand, name="LoadData"):
    """Phase 2: load the collected dataset into the target database."""


class _PhaseResult(Event, abstract=True):
    """What a phase reports: its status, its counts, its errors and its healing."""

    run_id: str
    agent: str
    """The agent that ran the phase (``DataCollector``, ``DataLoaderAgent``)."""
    status: PhaseStatus
    total: int = Field(default=0, ge=0)
    """Sources (phase 1) or tables (phase 2) the phase meant to handle."""
    successful: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    warnings: int = Field(default=0, ge=0)
    changed_files: int = Field(default=0, ge=0)
    files_saved: int = Field(default=0, ge=0)
    rows: int = Field(default=0, ge=0)
    errors: tuple[PhaseError, ...] = ()
    healing_actions: tuple[HealingAction, ...] = ()
    output_paths: tuple[str, ...] = ()
    """What the phase wrote (for the report's disk figures)."""
    duration_s: float = Field(default=0.0, ge=0)


class CollectorFinished(_PhaseResult, name="CollectorFinished"):
    """Phase 1 ended, well or not. ``rollback_status`` is None when no rollback was tried."""

    rollback_status: ActionStatus | None = None


class LoaderFinished(_PhaseResult, name="LoaderFinished"):
    """Phase 2 loaded every table and recorded the load in the target's ``load_history``."""


class LoaderFailed(_PhaseResult, name="LoaderFailed"):
    """Phase 2 failed; the target was restored from its backup (see ``rollback_status``)."""

    rollback_status: ActionStatus | None = None


class PipelineFinished(Event, name="PipelineFinished"):
    """A run ended: its result (``overall_status``, both phases' results, a time)."""

    run_id: str
    overall_status: OverallStatus
    collector_result: CollectorFinished | None
    """Phase 1's result; None if the collector crashed before answering."""
    loader_result: LoaderFinished | LoaderFailed | None
    """Phase 2's result; None if it was skipped or crashed."""
    timestamp: datetime
    """When the run ended (the time its last result was recorded)."""
    reason: str
    """Why it ended so, in words (the gate's decision, a crash, a failure)."""
    loader_skipped: bool = False
    duration_s: float = Field(default=0.0, ge=0)
    config: PipelineConfig

    def result(self) -> dict[str, object]:
        """The note's ``run_pipeline`` result, as plain JSON values."""
        return {
            "overall_status": self.overall_status,
            "collector_result": _dump(self.collector_result),
            "loader_result": _dump(self.loader_result),
            "timestamp": self.timestamp.isoformat(),
            "run_id": self.run_id,
            "reason": self.reason,
        }


class ManualReviewReportWritten(Event, name="ManualReviewReportWritten"):
    """A run's manual review report is in its file and was handed to the handler."""

    run_id: str
    path: str
    overall_status: OverallStatus
    recipient: str
    delivered: bool
    """Whether the handler accepted it (the file is the record either way)."""


def _dump(result: BaseModel | None) -> dict[str, object] | None:
    if result is None:
        return None
    return {"type": type(result).__name__, **result.model_dump(mode="json")}
