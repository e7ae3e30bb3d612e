"""Telling a human: notification handlers and the manual review notifier.

A handler is anything with ``send_notification`` (:class:`NotificationHandlerProtocol`);
:class:`MockNotificationHandler` records instead of sending, for tests.
:class:`ManualReviewNotifier` writes a :class:`~actors._report.ManualReviewReport` to a
file first and only then sends it, so a report survives a handler that is down.

Hazard: the notifier never raises because delivery failed (it is called on paths that
are already failing, and raising there would hide the first failure); look at
:attr:`ManualReviewNotifier.delivery_failures` or the warning log instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from loguru import logger

from sagalog.actors._errors import ActorRuntimeError
from sagalog.actors._report import ManualReviewReport, render_report

__all__ = [
    "DeliveryFailure",
    "ManualReviewNotifier",
    "MockNotificationHandler",
    "NotificationError",
    "NotificationHandlerProtocol",
    "Priority",
    "SentNotification",
    "UnknownPriorityError",
]


class NotificationError(ActorRuntimeError):
    """A notification could not be made: a bad argument, or the report file not written."""


class UnknownPriorityError(NotificationError, ValueError):
    """A priority that is not one of :class:`Priority`; ``priority`` holds what was given."""

    def __init__(self, priority: object) -> None:
        self.priority = priority
        allowed = ", ".join(member.value for member in Priority)
        super().__init__(f"unknown notification priority {priority!r}: use one of {allowed}")


class Priority(StrEnum):
    """How urgent a notification is. Text is matched case-insensitively (``"HIGH"``)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @classmethod
    def _missing_(cls, value: object) -> Priority | None:
        if isinstance(value, str):
            lowered = value.strip().lower()
            for member in cls:
                if member.value == lowered:
                    return member
        return None

    @classmethod
    def parse(cls, value: Priority | str) -> Priority:
        """The member ``value`` names, in any case.

        Raises:
            UnknownPriorityError: ``value`` names no member.

        """
        try:
            return cls(value)
        except ValueError as error:
            raise UnknownPriorityError(value) from error


class NotificationHandlerProtocol(Protocol):
    """What sends a notification (mail, chat, pager); the seam tests replace."""

    def send_notification(self, recipient: str, subject: str, message: str, priority: str) -> bool:
        """Send one notification; True if it was accepted for delivery, False if not."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SentNotification:
    """One notification a :class:`MockNotificationHandler` accepted."""

    recipient: str
    """Who it was for."""
    subject: str
    """Its subject line."""
    message: str
    """Its body."""
    priority: Priority
    """Its priority, parsed."""
    sent_at: datetime
    """When it was sent, by the handler's clock."""


class MockNotificationHandler:
    """A handler that records notifications instead of sending them; safe from any thread.

    Example::

        handler = MockNotificationHandler()
        handler.fail_next(1)                 # the next send returns False
        notifier = ManualReviewNotifier(tmp_path, handler)
    """

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: list[SentNotification] = []
        self._failed: list[SentNotification] = []
        self._failures_left = 0

    def send_notification(
        self, recipient: str, subject: str, message: str, priority: Priority | str
    ) -> bool:
        """Record the notification; False (and record it as failed) if told to fail.

        Raises:
            UnknownPriorityError: ``priority`` is not one of :class:`Priority`.

        """
        notification = SentNotification(
            recipient, subject, message, Priority.parse(priority), self._clock()
        )
        with self._lock:
            if self._failures_left > 0:
                self._failures_left -= 1
                self._failed.append(notification)
                return False
            self._sent.append(notification)
            return True

    @property
    def sent(self) -> list[SentNotification]:
        """A copy of the notifications accepted so far, in order."""
        with self._lock:
            return list(self._sent)

    @property
    def failed(self) -> list[SentNotification]:
        """A copy of the notifications refused by :meth:`fail_next`, in order."""
        with self._lock:
            return list(self._failed)

    def fail_next(self, count: int = 1) -> None:
        """Make the next ``count`` sends return False (replacing any earlier count)."""
        if count < 0:
            raise NotificationError(f"fail_next needs a count of 0 or more, not {count}")
        with self._lock:
            self._failures_left = count

    def clear(self) -> None:
        """Forget every notification and any failures still to come."""
        with self._lock:
            self._sent.clear()
            self._failed.clear()
            self._failures_left = 0


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """A report that was written to its file but not delivered by the handler."""

    path: Path
    """The report's file, which exists."""
    agent_id: str
    """The agent the report is about."""
    reason: str
    """Why delivery failed: the handler said False, or what it raised."""
    failed_at: datetime
    """When, by the notifier's clock."""


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_NAME_LIMIT = 64
# File names must never collide, even for one agent at one (fixed) instant from many
# threads and processes: the pid and a process-wide counter make a name unique among
# live processes, and the random part covers a reused pid under a test's fixed clock.
_sequence = itertools.count(1)
_sequence_lock = threading.Lock()


def _safe_agent(agent_id: str) -> str:
    """``agent_id`` as a file-name part: only letters, digits, ``_`` and ``-``."""
    return _UNSAFE.sub("_", agent_id).strip("_")[:_NAME_LIMIT] or "agent"


def _unique_suffix() -> str:
    with _sequence_lock:
        number = next(_sequence)
    return f"{os.getpid():x}-{number:x}-{secrets.token_hex(2)}"


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX only; Windows cannot open a directory)."""
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` is either absent or complete, never partial."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".manual_review_", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            if sys.platform != "win32":
                os.fchmod(file.fileno(), 0o644)  # mkstemp's 0600 would hide it from operators
            file.write(text.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
    _fsync_directory(path.parent)


class ManualReviewNotifier:
    """Writes each manual review report to its own file, then sends it through a handler.

    The file comes first and is written atomically (a temporary file in the same
    directory, fsynced, then renamed), so a reader never sees half a report and a
    handler that fails loses nothing. Names look like
    ``manual_review_<agent>_<20260101T120000.000000Z>_<unique>.txt`` and never collide.
    Safe to call from several threads at once.

    Example::

        notifier = ManualReviewNotifier("reports", MockNotificationHandler())
        path = notifier.notify(report)       # the file exists, whatever the handler did
        assert not notifier.delivery_failures
    """

    def __init__(
        self,
        directory: str | Path,
        handler: NotificationHandlerProtocol | None = None,
        *,
        recipient: str = "operations",
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.directory = Path(directory)
        """Where report files go; created on first use."""
        self.handler = handler
        """Also sends each report, if set."""
        self.recipient = recipient
        """Who the handler sends reports to."""
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: list[DeliveryFailure] = []

    @property
    def delivery_failures(self) -> list[DeliveryFailure]:
        """A copy of the reports written but not delivered, oldest first."""
        with self._lock:
            return list(self._failures)

    def notify(self, report: ManualReviewReport) -> Path:
        """Write ``report`` to a new file, send it (priority HIGH) and return the file's path.

        A handler that returns False or raises does not make this fail: the failure is
        logged as a warning and added to :attr:`delivery_failures`.

        Raises:
            NotificationError: The file could not be written (nothing was sent), or the
                clock returned a naive datetime.

        """
        text = render_report(report)
        now = self._now()
        name = (
            f"manual_review_{_safe_agent(report.agent_id)}_"
            f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}_{_unique_suffix()}.txt"
        )
        path = self.directory / name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, text)
        except OSError as error:
            raise NotificationError(
                f"could not write the manual review report for {report.agent_id!r} "
                f"to {path}: {error}"
            ) from error
        self._send(report.agent_id, text, path)
        return path

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise NotificationError(f"the notifier's clock returned a naive datetime: {now!r}")
        return now.astimezone(UTC)

    def _send(self, agent_id: str, text: str, path: Path) -> None:
        if self.handler is None:
            return
        try:
            delivered = self.handler.send_notification(
                recipient=self.recipient,
                subject=f"Manual review required: {agent_id}",
                message=text,
                priority=Priority.HIGH,
            )
        except Exception as error:  # noqa: BLE001 - reported below; the file is the record
            reason = f"the handler raised {type(error).__name__}: {error}"
        else:
            if delivered:
                return
            reason = "the handler returned False"
        failure = DeliveryFailure(path, agent_id, reason, self._now())
        with self._lock:
            self._failures.append(failure)
        logger.bind(agent_id=agent_id).warning(
            "manual review report written to {} but not delivered: {}", path, reason
        )
