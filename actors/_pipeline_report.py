"""The data pipeline's manual review: the report of a run that was not a success, and its delivery.

:func:`pipeline_report` fills the note's layout from a :class:`PipelineFinished`: the
SUMMARY counts both phases together (sources collected plus tables loaded), ERROR
DETAILS lists each phase's errors with their recovery actions (and a crash or a skipped
loader as errors of their own), HEALING ACTIONS every ROLLBACK_TO_BACKUP with its
status, METADATA the run's duration, this process's memory and the outputs' disk use.

:class:`OutboxNotificationHandler` is the default handler when the application gives
none: each notification becomes one JSON line in a file, so the command line has a
record of what would have been sent.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from sagalog.actors._pipeline_collector import COLLECTOR_AGENT
from sagalog.actors._pipeline_loader import LOADER_AGENT
from sagalog.actors._report import (
    ErrorDetail,
    ManualReviewReport,
    RecoveryAction,
    ReportSummary,
    system_metadata,
)
from sagalog.events.pipeline import HealingAction, PhaseError, PipelineFinished

__all__ = ["ORCHESTRATOR_AGENT", "OutboxNotificationHandler", "pipeline_report"]

ORCHESTRATOR_AGENT = "DataPipelineOrchestrator"


def _action(action: HealingAction) -> RecoveryAction:
    return RecoveryAction(priority=action.priority, action_name=action.action_name,
                          scale=action.scale, status=action.status)


def _error(error: PhaseError) -> ErrorDetail:
    return ErrorDetail(data_type=error.data_type, error_type=error.error_type,
                       error_message=error.error_message,
                       recovery_actions=tuple(map(_action, error.recovery_actions)))


def _crashed(finished: PipelineFinished) -> str | None:
    """The agent that crashed (left no result where one was due), if one did."""
    if finished.collector_result is None:
        return COLLECTOR_AGENT
    if finished.loader_result is None and not finished.loader_skipped:
        return LOADER_AGENT
    return None


def _trigger_agents(finished: PipelineFinished) -> list[str]:
    """The agents whose failure led here: a failed phase, or the one that crashed."""
    failed = [phase.agent for phase in (finished.collector_result, finished.loader_result)
              if phase is not None and phase.status == "failed"]
    crashed = _crashed(finished)
    return [*failed, crashed] if crashed else failed


def pipeline_report(finished: PipelineFinished) -> ManualReviewReport:
    """The manual review report of a run (meant for runs that were not a ``success``)."""
    phases = [p for p in (finished.collector_result, finished.loader_result) if p is not None]
    errors = [_error(error) for phase in phases for error in phase.errors]
    crashed = _crashed(finished)
    if crashed:
        errors.append(ErrorDetail(data_type=crashed, error_type="AGENT_CRASHED",
                                  error_message=finished.reason))
    if finished.loader_skipped:
        errors.append(ErrorDetail(data_type="pipeline", error_type="LOADER_SKIPPED",
                                  error_message=finished.reason))
    outputs = [finished.config.default_dir, finished.config.target_db_path]
    return ManualReviewReport(
        agent_id=ORCHESTRATOR_AGENT,
        status=finished.overall_status,
        timestamp=finished.timestamp,
        summary=ReportSummary(
            total_databases=sum(p.total for p in phases),
            successful=sum(p.successful for p in phases),
            failed=sum(p.failed for p in phases),
            warnings=sum(p.warnings for p in phases),
            changed_files=sum(p.changed_files for p in phases),
            files_saved=sum(p.files_saved for p in phases),
        ),
        errors=tuple(errors),
        healing_actions=tuple(_action(a) for p in phases for a in p.healing_actions),
        metadata=system_metadata(finished.duration_s, outputs, _trigger_agents(finished)),
    )


class OutboxNotificationHandler:
    """Appends each notification to a JSON Lines file (one fsynced line each); thread-safe."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send_notification(self, recipient: str, subject: str, message: str,
                          priority: str) -> bool:
        """Append the notification; False if the file cannot be written."""
        line = json.dumps({"recipient": recipient, "subject": subject, "priority": str(priority),
                           "sent_at": datetime.now(UTC).isoformat(), "message": message})
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as file:
                    file.write(line + "\n")
                    file.flush()
                    os.fsync(file.fileno())
        except OSError:
            return False
        return True

    def sent(self) -> list[dict[str, str]]:
        """Every notification appended so far, oldest first."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        # JSON Lines end at "\n" only (str.splitlines also breaks at U+2028 and its kind)
        return [json.loads(line) for line in text.split("\n") if line.strip()]
