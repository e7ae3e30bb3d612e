"""The data pipeline's actors: the two phases and the manual review reporter.

Each phase actor hands its command to an adapter (:class:`DataCollector`,
:class:`DataLoader`) with the command's event id as the idempotency key; the adapters
take every path from the command, which carries the run's configuration. The reporter
turns a run that was not a ``success`` into the note's manual review report, writes it
to a file in the run's own report directory and sends it.

Exactly once: the reporter's ``ManualReviewReportWritten`` commits with its checkpoint,
so a finished report is never redone; a crash between writing the file and that commit
finds the file in the run's directory on the re-run and reuses it (the notification is
then sent again: at least once, as a lost alert is worse than a repeated one).
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from sagalog.actors._actor import Actor
from sagalog.actors._handlers import handles
from sagalog.actors._notify import ManualReviewNotifier, NotificationHandlerProtocol, Priority
from sagalog.actors._pipeline_collector import COLLECTOR_AGENT, DataCollector
from sagalog.actors._pipeline_config import DEFAULTS, PipelineConfigError, load_pipeline_config
from sagalog.actors._pipeline_loader import LOADER_AGENT, DataLoader, load_history
from sagalog.actors._pipeline_report import (
    ORCHESTRATOR_AGENT,
    OutboxNotificationHandler,
    pipeline_report,
)
from sagalog.actors._retry import RetryPolicy
from sagalog.events import Envelope, Message
from sagalog.events.pipeline import (
    CollectData,
    CollectorFinished,
    LoadData,
    LoaderFailed,
    LoaderFinished,
    ManualReviewReportWritten,
    PipelineFinished,
)

__all__ = [
    "COLLECTOR_AGENT",
    "DEFAULTS",
    "LOADER_AGENT",
    "ORCHESTRATOR_AGENT",
    "CollectorActor",
    "DataCollector",
    "DataLoader",
    "LoaderActor",
    "OutboxNotificationHandler",
    "PipelineConfigError",
    "PipelineReporter",
    "load_history",
    "load_pipeline_config",
    "pipeline_report",
]

_PHASE_RETRY = RetryPolicy(attempts=2, delay=0.5)
"""A phase that raises (a bug, not a data failure) is tried once more, then dead-lettered."""


class CollectorActor(Actor):
    """Phase 1: answers every ``CollectData`` with a ``CollectorFinished``."""

    retry_policy = _PHASE_RETRY

    def __init__(self, collector: DataCollector | None = None) -> None:
        super().__init__()
        self.collector = collector or DataCollector()

    @handles(CollectData)
    def collect(self, command: CollectData, envelope: Envelope[Message]) -> CollectorFinished:
        """Collect, keyed by the command's event id."""
        return self.collector.collect(command, str(envelope.event_id))


class LoaderActor(Actor):
    """Phase 2: answers every ``LoadData`` with ``LoaderFinished`` or ``LoaderFailed``."""

    retry_policy = _PHASE_RETRY

    def __init__(self, loader: DataLoader | None = None) -> None:
        super().__init__()
        self.loader = loader or DataLoader()

    @handles(LoadData)
    def load(self, command: LoadData, envelope: Envelope[Message]) -> LoaderFinished | LoaderFailed:
        """Load, keyed by the command's event id."""
        return self.loader.load(command, str(envelope.event_id))


class PipelineReporter(Actor):
    """Writes and sends the manual review report of every run that was not a ``success``.

    ``handler`` sends the notifications; without one, each run's notifications go to its
    configuration's ``outbox_path`` (a JSON Lines file).
    """

    def __init__(self, handler: NotificationHandlerProtocol | None = None) -> None:
        super().__init__()
        self.handler = handler

    @handles(PipelineFinished)
    def report(self, finished: PipelineFinished,
               envelope: Envelope[Message]) -> ManualReviewReportWritten | None:
        """Nothing for a success; otherwise the report, once per run."""
        if finished.overall_status == "success":
            return None
        config = finished.config
        directory = Path(config.report_dir) / finished.run_id
        handler = self.handler or OutboxNotificationHandler(config.outbox_path)
        log = logger.bind(actor=self.actor_name, saga=finished.run_id)
        earlier = sorted(directory.glob("manual_review_*.txt"))
        if earlier:  # written before a crash, not yet recorded: reuse it, send it again
            path = earlier[0]
            delivered = handler.send_notification(
                config.recipient, f"Manual review required: {ORCHESTRATOR_AGENT}",
                path.read_text(encoding="utf-8"), Priority.HIGH,
            )
        else:
            notifier = ManualReviewNotifier(directory, handler, recipient=config.recipient)
            path = notifier.notify(pipeline_report(finished))
            delivered = not notifier.delivery_failures
        log.warning("run {} ended {}: manual review report in {}", finished.run_id,
                    finished.overall_status, path)
        return ManualReviewReportWritten(
            run_id=finished.run_id, path=str(path), overall_status=finished.overall_status,
            recipient=config.recipient, delivered=delivered,
        )
