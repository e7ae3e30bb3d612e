"""The manual review report: its models, its exact text layout, and measured metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import pytest
from pydantic import ValidationError

from sagalog.actors import _report
from sagalog.actors._report import (
    ErrorDetail,
    ManualReviewReport,
    RecoveryAction,
    ReportMetadata,
    ReportSummary,
    render_report,
    system_metadata,
)

WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
METADATA = ReportMetadata(
    duration_s=12.5,
    memory_mb=512.0,
    memory_percent=12.5,
    disk_output_mb=3.25,
    disk_free_mb=10240.0,
    trigger_agents=["DataPipelineOrchestrator", "DataLoaderAgent"],
)


def full_report() -> ManualReviewReport:
    return ManualReviewReport(
        agent_id="DataCollector",
        status="failed",
        timestamp=WHEN,
        summary=ReportSummary(
            total_databases=5, successful=3, failed=2, warnings=1, changed_files=4, files_saved=3
        ),
        errors=[
            ErrorDetail(
                data_type="productRecords",
                error_type="FILE_NOT_FOUND",
                error_message="source file missing: productRecords.xlsx",
                recovery_actions=[
                    RecoveryAction(
                        priority="high",
                        action_name="rollback_to_backup",
                        scale="local",
                        status="failed",
                    ),
                    RecoveryAction(
                        priority="MEDIUM",
                        action_name="TRIGGER_MANUAL_REVIEW",
                        scale="global",
                        status="pending",
                    ),
                ],
            ),
            ErrorDetail(
                data_type="purchaseOrders",
                error_type="SCHEMA_MISMATCH",
                error_message="column 'poNo' is missing",
                recovery_actions=[
                    RecoveryAction(
                        priority="critical",
                        action_name="retry_processing",
                        scale="local",
                        status="FAILED",
                    ),
                ],
            ),
        ],
        healing_actions=[
            RecoveryAction(
                priority="HIGH",
                action_name="ROLLBACK_TO_BACKUP",
                scale="database",
                status="success",
            ),
        ],
        metadata=METADATA,
    )


GOLDEN = """\
================================================================================
                    MANUAL REVIEW NOTIFICATION
================================================================================

Agent ID     : DataCollector
Status       : FAILED
Timestamp    : 2026-01-02T03:04:05.678901+00:00

------------------------------ SUMMARY ------------------------------
Total Databases     : 5
Successful          : 3
Failed              : 2
Warnings            : 1
Changed Files       : 4
Files Saved         : 3

------------------------- ERROR DETAILS -------------------------
ERROR #1:
  Data Type      : productRecords
  Error Type     : FILE_NOT_FOUND
  Error Message  : source file missing: productRecords.xlsx

  Recovery Actions:
    1. [HIGH] ROLLBACK_TO_BACKUP at local → Status: FAILED
    2. [MEDIUM] TRIGGER_MANUAL_REVIEW at global → Status: PENDING

ERROR #2:
  Data Type      : purchaseOrders
  Error Type     : SCHEMA_MISMATCH
  Error Message  : column 'poNo' is missing

  Recovery Actions:
    1. [CRITICAL] RETRY_PROCESSING at local → Status: FAILED

---------------------- HEALING ACTIONS ----------------------
1. [HIGH] ROLLBACK_TO_BACKUP at database → Status: SUCCESS

-------------------------- METADATA --------------------------
Duration (s)        : 12.50
Memory Usage (MB)   : 512.0 (12.5%)
Disk Output (MB)    : 3.25
Disk Free Space (MB): 10240.0
Trigger Agents      : DataPipelineOrchestrator, DataLoaderAgent

================================================================================
"""

EMPTY_GOLDEN = """\
================================================================================
                    MANUAL REVIEW NOTIFICATION
================================================================================

Agent ID     : DataLoaderAgent
Status       : ERROR
Timestamp    : 2026-01-02T03:04:05.678901+00:00

------------------------------ SUMMARY ------------------------------
Total Databases     : 0
Successful          : 0
Failed              : 0
Warnings            : 0
Changed Files       : 0
Files Saved         : 0

------------------------- ERROR DETAILS -------------------------
  (none)

---------------------- HEALING ACTIONS ----------------------
  (none)

-------------------------- METADATA --------------------------
Duration (s)        : 0.00
Memory Usage (MB)   : 0.0 (0.0%)
Disk Output (MB)    : 0.00
Disk Free Space (MB): 0.0
Trigger Agents      : (none)

================================================================================
"""


def empty_report(**changes: object) -> ManualReviewReport:
    fields: dict[str, object] = {
        "agent_id": "DataLoaderAgent",
        "status": "ERROR",
        "timestamp": WHEN,
        "summary": ReportSummary(),
        "metadata": ReportMetadata(
            duration_s=0, memory_mb=0, memory_percent=0, disk_output_mb=0, disk_free_mb=0
        ),
    }
    return ManualReviewReport.model_validate(fields | changes)


def test_render_report_matches_the_design_note_layout_exactly() -> None:
    """A report with two errors, three recovery actions and a healing action renders as golden."""
    assert render_report(full_report()) == GOLDEN


def test_render_report_shows_none_for_every_empty_list() -> None:
    """Empty errors, healing actions and trigger agents each render as "(none)"."""
    assert render_report(empty_report()) == EMPTY_GOLDEN


def test_an_error_without_recovery_actions_says_none_under_its_heading() -> None:
    """An error with no recovery actions shows an indented "(none)" under "Recovery Actions:"."""
    error = ErrorDetail(data_type="a", error_type="B", error_message="c")
    text = render_report(empty_report(errors=[error]))
    assert "  Recovery Actions:\n    (none)\n\n---------------------- HEALING" in text


def test_rules_and_headers_have_the_notes_widths() -> None:
    """The '=' rules are 80 wide and the title and dashed headers are as the note draws them."""
    lines = render_report(full_report()).splitlines()
    assert lines[0] == lines[2] == lines[-1] == "=" * 80
    assert lines[1] == " " * 20 + "MANUAL REVIEW NOTIFICATION"
    assert "-" * 30 + " SUMMARY " + "-" * 30 in lines
    assert "-" * 26 + " METADATA " + "-" * 26 in lines
    assert all(line == line.rstrip() for line in lines)


def test_multi_line_error_message_stays_aligned_under_its_label() -> None:
    """Continuation lines of a multi-line error message are indented to the value's column."""
    error = ErrorDetail(data_type="a", error_type="B", error_message="first\nsecond")
    text = render_report(empty_report(errors=[error]))
    assert "  Error Message  : first\n                   second\n" in text


class Scale(Enum):
    DATABASE = "database"


class Status(Enum):
    SUCCESS = "success"


class Action(Enum):
    ROLLBACK_TO_BACKUP = "rollback_to_backup"


class Level(Enum):
    HIGH = 1


def test_recovery_action_accepts_enums_by_name_or_value() -> None:
    """Enum priority and action render by name, enum scale and status by value."""
    action = RecoveryAction(
        priority=Level.HIGH,
        action_name=Action.ROLLBACK_TO_BACKUP,
        scale=Scale.DATABASE,
        status=Status.SUCCESS,
    )
    assert action.line() == "[HIGH] ROLLBACK_TO_BACKUP at database → Status: SUCCESS"


def test_report_refuses_a_naive_timestamp() -> None:
    """A timestamp without a timezone is refused, since a report's time must be unambiguous."""
    with pytest.raises(ValidationError, match="timezone"):
        empty_report(timestamp=datetime(2026, 1, 2))  # noqa: DTZ001 - the point of the test


def test_report_refuses_negative_counts() -> None:
    """A negative summary count is refused."""
    with pytest.raises(ValidationError):
        ReportSummary(failed=-1)


def test_report_is_frozen() -> None:
    """A report cannot be changed after it is made, so a notifier can hold it safely."""
    report = full_report()
    with pytest.raises(ValidationError):
        report.agent_id = "other"  # type: ignore[misc]
    assert isinstance(report.errors, tuple)


def test_system_metadata_measures_plausible_real_values(tmp_path: Path) -> None:
    """Memory, its percentage, output size and free space are real, positive and in range."""
    out = tmp_path / "out"
    (out / "nested").mkdir(parents=True)
    (out / "a.bin").write_bytes(b"x" * (1024 * 1024))
    (out / "nested" / "b.bin").write_bytes(b"y" * (1024 * 1024))
    single = tmp_path / "c.bin"
    single.write_bytes(b"z" * (512 * 1024))
    metadata = system_metadata(1.5, [out, str(single)], ["Orchestrator"])
    assert metadata.duration_s == 1.5
    assert 1 < metadata.memory_mb < 1024 * 1024
    assert 0 < metadata.memory_percent < 100
    assert metadata.disk_output_mb == pytest.approx(2.5)
    assert metadata.disk_free_mb > 0
    assert metadata.trigger_agents == ("Orchestrator",)


def test_system_metadata_counts_missing_outputs_as_zero_and_finds_their_file_system(
    tmp_path: Path,
) -> None:
    """A missing path adds 0 MB; free space comes from its nearest existing ancestor."""
    metadata = system_metadata(0.0, [tmp_path / "not" / "yet" / "there.txt"])
    assert metadata.disk_output_mb == 0
    assert metadata.disk_free_mb > 0
    assert metadata.trigger_agents == ()


def test_system_metadata_falls_back_to_getrusage_without_proc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without /proc, memory still comes out positive, from getrusage and sysconf."""
    monkeypatch.setattr(_report, "_proc_kb", lambda _path, _key: None)
    metadata = system_metadata(0.1)
    assert metadata.memory_mb > 1
    assert 0 < metadata.memory_percent < 100
