"""The manual review report: what an operator reads when a pipeline needs a human.

The models are frozen pydantic models, so a report handed to a notifier cannot change
under it while it is written and sent. :func:`render_report` turns one into the plain
text layout of the data pipeline's manual-review report ("Notification Structure"), and
:func:`system_metadata` measures the numbers of its METADATA section.

Hazard: the rendered text is a contract (operators grep it, tests compare it byte for
byte); change a label or a rule length and every golden test must change with it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

if sys.platform != "win32":
    import resource

__all__ = [
    "ErrorDetail",
    "ManualReviewReport",
    "RecoveryAction",
    "ReportMetadata",
    "ReportSummary",
    "render_report",
    "system_metadata",
]

_MIB = 1024 * 1024
_RULE = "=" * 80
_TITLE = " " * 20 + "MANUAL REVIEW NOTIFICATION"
_ARROW = "\N{RIGHTWARDS ARROW}"
_NONE = "(none)"


def _section(title: str, dashes: int) -> str:
    """A dashed section header; the dash counts are the note's, which differ per section."""
    return f"{'-' * dashes} {title} {'-' * dashes}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _enum_name(value: object) -> object:
    """An enum member's name (``Priority.HIGH`` -> ``"HIGH"``); anything else unchanged."""
    return value.name if isinstance(value, Enum) else value


def _enum_value(value: object) -> object:
    """An enum member's value as text (``Scale.DATABASE`` -> ``"database"``)."""
    return str(value.value) if isinstance(value, Enum) else value


class RecoveryAction(_Frozen):
    """One recovery (or healing) step that was tried, and how it ended.

    Enum members are accepted as well as strings, as the pipelines that fill these
    reports use enums: priority and action by name, scale and status by value.
    """

    priority: str = Field(min_length=1)
    """How urgent the action was, upper-case (``"HIGH"``)."""
    action_name: str = Field(min_length=1)
    """What was done, upper-case (``"ROLLBACK_TO_BACKUP"``)."""
    scale: str = Field(min_length=1)
    """Where it acted, as given (``"database"``, ``"local"``, ``"global"``)."""
    status: str = Field(min_length=1)
    """How it ended, upper-case (``"SUCCESS"``, ``"FAILED"``)."""

    @field_validator("priority", "action_name", mode="before")
    @classmethod
    def _by_name(cls, value: object) -> object:
        return _enum_name(value)

    @field_validator("scale", "status", mode="before")
    @classmethod
    def _by_value(cls, value: object) -> object:
        return _enum_value(value)

    @field_validator("priority", "action_name", "status")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def line(self) -> str:
        """The action as one report line, without its number."""
        what = f"[{self.priority}] {self.action_name} at {self.scale}"
        return f"{what} {_ARROW} Status: {self.status}"


class ErrorDetail(_Frozen):
    """One failed piece of data, why it failed, and what was tried about it."""

    data_type: str
    """Which data failed (a database or table name)."""
    error_type: str
    """The error's classification (``"FILE_NOT_FOUND"``)."""
    error_message: str
    """The error's own words; may span several lines."""
    recovery_actions: tuple[RecoveryAction, ...] = ()
    """The recovery steps tried for this error, in order."""


class ReportSummary(_Frozen):
    """The run's counts, as the SUMMARY section shows them."""

    total_databases: int = Field(default=0, ge=0)
    """Databases the run meant to process."""
    successful: int = Field(default=0, ge=0)
    """Databases processed without error."""
    failed: int = Field(default=0, ge=0)
    """Databases that failed."""
    warnings: int = Field(default=0, ge=0)
    """Warnings raised during the run."""
    changed_files: int = Field(default=0, ge=0)
    """Source files found changed since the last run."""
    files_saved: int = Field(default=0, ge=0)
    """Output files written."""


class ReportMetadata(_Frozen):
    """The run's cost and cause, as the METADATA section shows them.

    Sizes are in MB of 2**20 bytes. :func:`system_metadata` measures them.
    """

    duration_s: float = Field(ge=0)
    """Wall time of the run, in seconds."""
    memory_mb: float = Field(ge=0)
    """Resident memory of the process."""
    memory_percent: float = Field(ge=0)
    """``memory_mb`` as a percentage of the machine's total memory."""
    disk_output_mb: float = Field(ge=0)
    """Total size of what the run wrote."""
    disk_free_mb: float = Field(ge=0)
    """Free space left where the run wrote."""
    trigger_agents: tuple[str, ...] = ()
    """The agents whose failure led to this report."""


class ManualReviewReport(_Frozen):
    """Everything an operator needs to decide what to do about a failed run.

    Example::

        report = ManualReviewReport(
            agent_id="DataCollector",
            status="failed",                     # stored upper-case: "FAILED"
            timestamp=datetime.now(UTC),
            summary=ReportSummary(total_databases=3, successful=2, failed=1),
            metadata=system_metadata(12.5, [output_dir], ["DataPipelineOrchestrator"]),
        )
        print(render_report(report))
    """

    agent_id: str = Field(min_length=1)
    """The agent whose run failed."""
    status: str = Field(min_length=1)
    """The run's outcome, upper-case (``"FAILED"``, ``"ERROR"``)."""
    timestamp: AwareDatetime
    """When the run ended; naive datetimes are refused, as they are ambiguous."""
    summary: ReportSummary
    """The run's counts."""
    errors: tuple[ErrorDetail, ...] = ()
    """Each failed piece of data."""
    healing_actions: tuple[RecoveryAction, ...] = ()
    """Recovery steps taken for the run as a whole."""
    metadata: ReportMetadata
    """The run's cost and cause."""

    @field_validator("status", mode="before")
    @classmethod
    def _status_value(cls, value: object) -> object:
        return _enum_value(value)

    @field_validator("status")
    @classmethod
    def _status_upper(cls, value: str) -> str:
        return value.upper()


def _field(label: str, value: object, indent: str = "") -> str:
    """``label`` then ``value``; continuation lines of a multi-line value align under it."""
    head = f"{indent}{label}: "
    return head + str(value).replace("\n", "\n" + " " * len(head))


def _header(report: ManualReviewReport) -> Iterator[str]:
    yield from (_RULE, _TITLE, _RULE, "")
    yield _field("Agent ID     ", report.agent_id)
    yield _field("Status       ", report.status)
    yield _field("Timestamp    ", report.timestamp.isoformat())
    yield ""


def _summary(summary: ReportSummary) -> Iterator[str]:
    yield _section("SUMMARY", 30)
    yield _field("Total Databases     ", summary.total_databases)
    yield _field("Successful          ", summary.successful)
    yield _field("Failed              ", summary.failed)
    yield _field("Warnings            ", summary.warnings)
    yield _field("Changed Files       ", summary.changed_files)
    yield _field("Files Saved         ", summary.files_saved)
    yield ""


def _actions(actions: tuple[RecoveryAction, ...], indent: str) -> Iterator[str]:
    if not actions:
        yield f"{indent}{_NONE}"
    for number, action in enumerate(actions, 1):
        yield f"{indent}{number}. {action.line()}"


def _errors(errors: tuple[ErrorDetail, ...]) -> Iterator[str]:
    yield _section("ERROR DETAILS", 25)
    if not errors:
        yield f"  {_NONE}"
        yield ""
    for number, error in enumerate(errors, 1):
        yield f"ERROR #{number}:"
        yield _field("Data Type      ", error.data_type, "  ")
        yield _field("Error Type     ", error.error_type, "  ")
        yield _field("Error Message  ", error.error_message, "  ")
        yield ""
        yield "  Recovery Actions:"
        yield from _actions(error.recovery_actions, "    ")
        yield ""


def _healing(actions: tuple[RecoveryAction, ...]) -> Iterator[str]:
    yield _section("HEALING ACTIONS", 22)
    if actions:
        yield from _actions(actions, "")
    else:  # indented like the other sections' "(none)", though the list is flush left
        yield f"  {_NONE}"
    yield ""


def _metadata(metadata: ReportMetadata) -> Iterator[str]:
    memory = f"{metadata.memory_mb:.1f} ({metadata.memory_percent:.1f}%)"
    yield _section("METADATA", 26)
    yield _field("Duration (s)        ", f"{metadata.duration_s:.2f}")
    yield _field("Memory Usage (MB)   ", memory)
    yield _field("Disk Output (MB)    ", f"{metadata.disk_output_mb:.2f}")
    yield _field("Disk Free Space (MB)", f"{metadata.disk_free_mb:.1f}")
    yield _field("Trigger Agents      ", ", ".join(metadata.trigger_agents) or _NONE)
    yield ""


def render_report(report: ManualReviewReport) -> str:
    """The report as plain text (the MANUAL REVIEW NOTIFICATION layout), ending with a newline.

    Numbers have fixed precision so the text is stable: duration and disk output 2
    decimals, memory, its percentage and free space 1. Empty lists show ``(none)``.
    The arrow is U+2192; the file is meant to be written as UTF-8.
    """
    lines = [
        *_header(report),
        *_summary(report.summary),
        *_errors(report.errors),
        *_healing(report.healing_actions),
        *_metadata(report.metadata),
        _RULE,
    ]
    return "\n".join(lines) + "\n"


def _proc_kb(path: Path, key: str) -> int | None:
    """A ``Key:  123 kB`` figure from a ``/proc`` file, or None where there is none."""
    try:
        with path.open(encoding="ascii", errors="replace") as lines:
            for line in lines:
                name, _, rest = line.partition(":")
                if name == key:
                    return int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rusage_kb() -> int | None:
    """Peak resident memory from ``getrusage``: a fallback, as it is the peak, not now."""
    if sys.platform == "win32":
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # macOS reports bytes, Linux and the BSDs kilobytes.
    return peak // 1024 if sys.platform == "darwin" else peak


def _total_memory_kb() -> int | None:
    """The machine's physical memory from ``sysconf``, or None where it is not known."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
    except (AttributeError, ValueError, OSError):
        return None


def _memory_usage() -> tuple[float, float]:
    """The resident memory of this process in MB and as a percentage of total memory."""
    rss_kb = _proc_kb(Path("/proc/self/status"), "VmRSS") or _rusage_kb() or 0
    total_kb = _proc_kb(Path("/proc/meminfo"), "MemTotal") or _total_memory_kb() or 0
    percent = 100.0 * rss_kb / total_kb if total_kb else 0.0
    return rss_kb / 1024, percent


def _size(path: Path) -> int:
    """Bytes under ``path``: a file's size, a directory's files summed, 0 if missing."""
    try:
        if not path.is_dir():
            return path.stat().st_size
    except OSError:
        return 0
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat(follow_symlinks=False).st_size
            except OSError:  # removed while we walked: it no longer takes space
                continue
    return total


def _free_mb(paths: list[Path]) -> float:
    """Free space on the file system of the first output (its nearest existing ancestor)."""
    place = paths[0].absolute() if paths else Path.cwd()
    while not place.is_dir() and place != place.parent:
        place = place.parent
    return shutil.disk_usage(place).free / _MIB


def system_metadata(
    duration_s: float,
    output_paths: Iterable[str | Path] = (),
    trigger_agents: Iterable[str] = (),
) -> ReportMetadata:
    """Measure this process and its outputs now, for a report's METADATA section.

    Memory is the resident set from ``/proc`` on Linux; elsewhere the peak from
    ``getrusage``, with 0 where neither exists. No psutil: the runtime must not need it.

    Args:
        duration_s: How long the run took, in seconds.
        output_paths: Files and directories the run wrote; directories are summed
            recursively and missing paths count 0. The first one also names the file
            system whose free space is reported (the working directory if none).
        trigger_agents: The agents whose failure led to the report.

    """
    paths = [Path(path) for path in output_paths]
    memory_mb, memory_percent = _memory_usage()
    return ReportMetadata(
        duration_s=duration_s,
        memory_mb=memory_mb,
        memory_percent=memory_percent,
        disk_output_mb=sum(_size(path) for path in paths) / _MIB,
        disk_free_mb=_free_mb(paths),
        trigger_agents=tuple(trigger_agents),
    )
