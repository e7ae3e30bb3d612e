"""Telling operations about a stage that failed or ran past its target duration.

:class:`OperationsWatch` looks at each stage's end: a stage's success (for the fan-out
stage, its last item's) and the run's failure. A stage's duration runs from its first
command to that result, both by ``recorded_at``, so retries and their waits count and
a test with a virtual clock needs no sleeping. Each notification is recorded as an
``OperationsNotified`` event, and the watch sends nothing the run's log (or the batch in
hand) already records, so it is sent once; only a crash between sending and recording
can send it again (at least once, never lost).

:class:`FileNotificationHandler` is the command line's operations channel: a JSON Lines
file anyone can tail, plus a warning in the log.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from loguru import logger

from sagalog.actors._actor import Actor
from sagalog.actors._handlers import handles
from sagalog.actors._notify import NotificationHandlerProtocol
from sagalog.events import Envelope, Message
from sagalog.events.master import (
    ACTIVITY_COMMANDS,
    ACTIVITY_SUCCESSES,
    ActivitySucceeded,
    MasterPipelineFailed,
    MasterPipelineStarted,
    OperationsNotified,
)

__all__ = ["FileNotificationHandler", "OperationsWatch", "stage_span"]

FAN_OUT_STAGE = "semantic_refresh"


def stage_span(records: list[Envelope[Message]], stage: str, end: Envelope[Message]) -> float:
    """Seconds from the stage's first command (in ``records``) to ``end``."""
    command_type = ACTIVITY_COMMANDS[stage].message_type
    first = next((r for r in records if r.type == command_type), None)
    if first is None:
        return 0.0
    return (end.recorded_at - first.recorded_at).total_seconds()


class OperationsWatch(Actor):
    """Notifies the operations channel when a stage fails or runs past its target."""

    def __init__(self, handler: NotificationHandlerProtocol) -> None:
        super().__init__()
        self.handler = handler
        self._sent: set[tuple[str, str, str]] = set()

    @handles(*ACTIVITY_SUCCESSES.values())
    def stage_succeeded(self, event: ActivitySucceeded,
                        envelope: Envelope[Message]) -> OperationsNotified | None:
        """A stage that ended past its target duration: tell operations."""
        records, start = self._run(envelope)
        if start is None:
            return None
        stage = event.stage
        if stage == FAN_OUT_STAGE and not self._all_items_done(records, start, envelope):
            return None
        target = start.config.stages[stage].target_duration_s
        took = stage_span(records, stage, envelope)
        if target is None or took <= target:
            return None
        reason = f"stage {stage} took {took:g} s, past its target of {target:g} s"
        return self._notify(records, start, stage, "slow", reason, "normal")

    @handles(MasterPipelineFailed)
    def run_failed(self, event: MasterPipelineFailed,
                   envelope: Envelope[Message]) -> OperationsNotified | None:
        """A stage failed after its tries: tell operations."""
        records, start = self._run(envelope)
        if start is None:
            return None
        reason = f"stage {event.stage} failed: {event.reason}"
        return self._notify(records, start, event.stage, "failed", reason, "high")

    def _run(self, envelope: Envelope[Message]
             ) -> tuple[list[Envelope[Message]], MasterPipelineStarted | None]:
        records = [r for r in self._context.store.read_correlation(envelope.correlation_id or "")
                   if r.position <= envelope.position or isinstance(r.data, OperationsNotified)]
        start = next((r.data for r in records if isinstance(r.data, MasterPipelineStarted)),
                     None)
        return records, start

    @staticmethod
    def _all_items_done(records: list[Envelope[Message]], start: MasterPipelineStarted,
                        envelope: Envelope[Message]) -> bool:
        success = ACTIVITY_SUCCESSES[FAN_OUT_STAGE].message_type
        done = {r.data.item for r in records  # type: ignore[attr-defined]
                if r.type == success and r.position <= envelope.position}
        return done >= set(start.config.semantic_models)

    def _notify(self, records: list[Envelope[Message]], start: MasterPipelineStarted,
                stage: str, kind: str, reason: str, priority: str) -> OperationsNotified | None:
        key = (start.run_id, stage, kind)
        recorded = any(isinstance(r.data, OperationsNotified)
                       and (r.data.run_id, r.data.stage, r.data.kind) == key for r in records)
        if recorded or key in self._sent:
            return None
        self._sent.add(key)
        recipient = start.config.operations_channel
        subject = f"master pipeline {start.run_id}: stage {stage} {kind}"
        delivered = self.handler.send_notification(recipient, subject, reason, priority)
        logger.bind(actor=self.actor_name, saga=start.run_id).warning(
            "operations told ({}): {}", "delivered" if delivered else "NOT delivered", reason)
        return OperationsNotified(run_id=start.run_id, stage=stage, kind=kind, reason=reason,
                                  recipient=recipient, delivered=delivered)


class FileNotificationHandler:
    """An operations channel that appends each notification to a JSON Lines file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send_notification(self, recipient: str, subject: str, message: str,
                          priority: str) -> bool:
        """Append one line; False if the file cannot be written."""
        line = json.dumps({"sent_at": datetime.now(UTC).isoformat(), "recipient": recipient,
                           "subject": subject, "message": message, "priority": priority})
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
        except OSError as error:
            logger.warning("operations notification not written to {}: {}", self.path, error)
            return False
        return True
