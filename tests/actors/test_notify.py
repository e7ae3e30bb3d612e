"""Notification handlers and the manual review notifier: records, failures, atomic files."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from sagalog.actors._notify import (
    ManualReviewNotifier,
    MockNotificationHandler,
    NotificationError,
    Priority,
    SentNotification,
    UnknownPriorityError,
)
from sagalog.actors._report import ManualReviewReport, ReportMetadata, ReportSummary, render_report

FIXED = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
NAME = re.compile(
    r"manual_review_(?P<agent>[A-Za-z0-9_-]+)_20260304T050607\.123456Z_[0-9a-f]+-[0-9a-f]+-[0-9a-f]{4}\.txt"
)


def fixed_clock() -> datetime:
    return FIXED


def make_report(agent_id: str = "DataCollector") -> ManualReviewReport:
    return ManualReviewReport(
        agent_id=agent_id,
        status="FAILED",
        timestamp=FIXED,
        summary=ReportSummary(total_databases=2, successful=1, failed=1),
        metadata=ReportMetadata(
            duration_s=1.0,
            memory_mb=64.0,
            memory_percent=1.0,
            disk_output_mb=0.5,
            disk_free_mb=100.0,
            trigger_agents=["Orchestrator"],
        ),
    )


@pytest.fixture
def warnings_logged() -> Iterator[list[Any]]:
    """The warning records the ``actors`` package logs during the test."""
    records: list[Any] = []
    logger.enable("sagalog.actors")
    sink = logger.add(
        lambda message: records.append(message.record), level="WARNING", filter="sagalog.actors"
    )
    yield records
    logger.remove(sink)
    logger.disable("sagalog.actors")


def names(directory: Path) -> list[str]:
    """Every entry of ``directory`` (temp files included), sorted."""
    return sorted(entry.name for entry in directory.iterdir())


class RaisingHandler:
    """A handler whose transport is down: it notes each call, then raises."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []

    def send_notification(self, recipient: str, subject: str, message: str, priority: str) -> bool:
        self.calls.append((recipient, subject, message, priority))
        raise ConnectionError("smtp is down")


def test_mock_records_each_sent_notification_in_order() -> None:
    """Each accepted send is recorded as a SentNotification with the parsed priority and time."""
    handler = MockNotificationHandler(clock=fixed_clock)
    assert handler.send_notification("ops", "first", "body 1", "HIGH") is True
    assert handler.send_notification("dev", "second", "body 2", Priority.LOW) is True
    assert handler.sent == [
        SentNotification("ops", "first", "body 1", Priority.HIGH, FIXED),
        SentNotification("dev", "second", "body 2", Priority.LOW, FIXED),
    ]
    assert handler.failed == []


def test_fail_next_makes_exactly_the_next_n_sends_return_false() -> None:
    """After fail_next(2) the next two sends return False and are kept apart; the third succeeds."""
    handler = MockNotificationHandler()
    handler.fail_next(2)
    results = [handler.send_notification("ops", f"s{i}", "m", "normal") for i in range(3)]
    assert results == [False, False, True]
    assert [n.subject for n in handler.failed] == ["s0", "s1"]
    assert [n.subject for n in handler.sent] == ["s2"]


def test_fail_next_refuses_a_negative_count() -> None:
    """A negative failure count is a NotificationError, not a silent no-op."""
    with pytest.raises(NotificationError, match="-1"):
        MockNotificationHandler().fail_next(-1)


def test_clear_forgets_notifications_and_pending_failures() -> None:
    """clear() empties both records and cancels failures still to come."""
    handler = MockNotificationHandler()
    handler.send_notification("ops", "s", "m", "low")
    handler.fail_next(5)
    handler.send_notification("ops", "s", "m", "low")
    handler.clear()
    assert handler.sent == handler.failed == []
    assert handler.send_notification("ops", "s", "m", "low") is True


def test_priority_is_parsed_from_enum_or_text_in_any_case() -> None:
    """Priorities accept the enum or its text in any case, with surrounding spaces ignored."""
    assert Priority.parse("CRITICAL") is Priority.CRITICAL
    assert Priority.parse(" Normal ") is Priority.NORMAL
    assert Priority.parse(Priority.LOW) is Priority.LOW
    assert Priority("High") is Priority.HIGH
    assert str(Priority.HIGH) == "high"


def test_unknown_priority_raises_a_notification_error_naming_it() -> None:
    """An unknown priority raises an error naming it and the allowed ones; nothing is recorded."""
    handler = MockNotificationHandler()
    with pytest.raises(NotificationError, match=r"'urgent'.*low, normal, high, critical") as caught:
        handler.send_notification("ops", "s", "m", "urgent")
    assert isinstance(caught.value, UnknownPriorityError)
    assert caught.value.priority == "urgent"
    assert handler.sent == handler.failed == []


def test_mock_handler_is_safe_from_many_threads() -> None:
    """Sends from 8 threads at once are all recorded and the failure count is honoured exactly."""
    handler = MockNotificationHandler()
    handler.fail_next(100)
    barrier = threading.Barrier(8)

    def send(worker: int) -> None:
        barrier.wait()
        for i in range(100):
            handler.send_notification("ops", f"{worker}-{i}", "m", "high")

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(handler.failed) == 100
    assert len(handler.sent) == 700
    subjects = {n.subject for n in handler.sent + handler.failed}
    assert len(subjects) == 800


def test_notify_writes_the_rendered_report_atomically_and_sends_it(tmp_path: Path) -> None:
    """The file holds exactly the rendered text, no temp file is left, the handler gets it HIGH."""
    handler = MockNotificationHandler()
    notifier = ManualReviewNotifier(tmp_path, handler, recipient="oncall", clock=fixed_clock)
    report = make_report()
    path = notifier.notify(report)
    assert path.parent == tmp_path
    assert NAME.fullmatch(path.name)
    assert path.read_text(encoding="utf-8") == render_report(report)
    assert names(tmp_path) == [path.name]
    [sent] = handler.sent
    assert (sent.recipient, sent.subject, sent.priority) == (
        "oncall",
        "Manual review required: DataCollector",
        Priority.HIGH,
    )
    assert sent.message == render_report(report)
    assert notifier.delivery_failures == []


def test_notify_creates_a_missing_directory(tmp_path: Path) -> None:
    """A directory that does not exist yet, however deep, is created on the first report."""
    directory = tmp_path / "a" / "b" / "reports"
    path = ManualReviewNotifier(str(directory)).notify(make_report())
    assert path.parent == directory
    assert path.is_file()


def test_file_names_are_utc_and_never_collide_under_8_threads_with_a_fixed_clock(
    tmp_path: Path,
) -> None:
    """400 reports from 8 threads at one instant make 400 distinct, complete files, no temps."""
    offset = timezone(timedelta(hours=7))
    handler = MockNotificationHandler()
    notifier = ManualReviewNotifier(tmp_path, handler, clock=lambda: FIXED.astimezone(offset))
    barrier = threading.Barrier(8)
    paths: list[Path] = []
    lock = threading.Lock()

    def notify_many(worker: int) -> None:
        barrier.wait()
        for i in range(50):
            path = notifier.notify(make_report(f"agent-{worker}-{i}"))
            with lock:
                paths.append(path)

    threads = [threading.Thread(target=notify_many, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(paths)) == 400
    assert names(tmp_path) == sorted(path.name for path in paths)
    for path in paths:
        match = NAME.fullmatch(path.name)
        assert match is not None
        assert path.read_text(encoding="utf-8") == render_report(make_report(match["agent"]))
    assert len(handler.sent) == 400


def test_same_agent_at_the_same_instant_still_gets_distinct_files(tmp_path: Path) -> None:
    """Two reports for one agent under a fixed clock never overwrite each other."""
    notifier = ManualReviewNotifier(tmp_path, clock=fixed_clock)
    first, second = notifier.notify(make_report()), notifier.notify(make_report())
    assert first != second
    assert len(names(tmp_path)) == 2


def test_handler_returning_false_still_leaves_the_file_and_records_the_failure(
    tmp_path: Path, warnings_logged: list[Any]
) -> None:
    """A refused delivery keeps the file, is listed in delivery_failures and logged as a warning."""
    handler = MockNotificationHandler()
    handler.fail_next(1)
    notifier = ManualReviewNotifier(tmp_path, handler, clock=fixed_clock)
    report = make_report()
    path = notifier.notify(report)
    assert path.read_text(encoding="utf-8") == render_report(report)
    [failure] = notifier.delivery_failures
    assert (failure.path, failure.agent_id, failure.failed_at) == (path, "DataCollector", FIXED)
    assert failure.reason == "the handler returned False"
    [record] = warnings_logged
    assert record["level"].name == "WARNING"
    assert str(path) in record["message"]
    assert record["extra"]["agent_id"] == "DataCollector"


def test_handler_raising_still_leaves_the_file_and_is_not_raised(
    tmp_path: Path, warnings_logged: list[Any]
) -> None:
    """A handler that raises does not make notify fail: the file exists, the error is recorded."""
    handler = RaisingHandler()
    notifier = ManualReviewNotifier(tmp_path, handler, clock=fixed_clock)
    path = notifier.notify(make_report())
    assert path.is_file()
    assert len(handler.calls) == 1
    [failure] = notifier.delivery_failures
    assert failure.reason == "the handler raised ConnectionError: smtp is down"
    assert len(warnings_logged) == 1


def test_agent_id_is_sanitised_into_a_safe_file_name(tmp_path: Path) -> None:
    """Path separators, dots and spaces in an agent id cannot move or hide the file."""
    notifier = ManualReviewNotifier(tmp_path / "reports", clock=fixed_clock)
    path = notifier.notify(make_report("../../etc/pass wd"))
    assert path.parent == tmp_path / "reports"
    match = NAME.fullmatch(path.name)
    assert match is not None
    assert match["agent"] == "etc_pass_wd"
    assert notifier.notify(make_report("...")).name.startswith("manual_review_agent_")


def test_a_naive_clock_is_refused(tmp_path: Path) -> None:
    """A clock returning a naive datetime raises NotificationError before anything is written."""
    notifier = ManualReviewNotifier(tmp_path, clock=lambda: datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(NotificationError, match="naive"):
        notifier.notify(make_report())
    assert names(tmp_path) == []


def test_unwritable_directory_raises_and_sends_nothing(tmp_path: Path) -> None:
    """If the directory cannot be made, notify raises NotificationError and sends nothing."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    handler = MockNotificationHandler()
    with pytest.raises(NotificationError, match="DataCollector") as caught:
        ManualReviewNotifier(blocker / "reports", handler).notify(make_report())
    assert isinstance(caught.value.__cause__, OSError)
    assert handler.sent == handler.failed == []


def test_a_failed_write_leaves_neither_a_partial_file_nor_a_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When fsync fails mid-write, the directory is left empty: no report, no temp file."""

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    handler = MockNotificationHandler()
    with pytest.raises(NotificationError, match="Input/output error"):
        ManualReviewNotifier(tmp_path, handler).notify(make_report())
    assert names(tmp_path) == []
    assert handler.sent == []
