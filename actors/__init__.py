"""The actor runtime: pykka actors that talk only through the log."""

# Imported first, before any module that logs: sagalog stays quiet until the application
# turns its logs on (see sagalog.events._logging).
import sagalog.events._logging  # noqa: F401  # isort: skip

from sagalog.actors._actor import Actor, ActorContext, ActorCrashedError
from sagalog.actors._clock import Clock, ClockProtocol, SystemClock, TimerHandle, VirtualClock
from sagalog.actors._errors import (
    ActorDefinitionError,
    ActorGaveUpError,
    ActorRuntimeError,
    HandlerOutputError,
    RuntimeStateError,
)
from sagalog.actors._handlers import handles
from sagalog.actors._ledger import Ledger, LedgerEntry, LedgerError
from sagalog.actors._notify import (
    DeliveryFailure,
    ManualReviewNotifier,
    MockNotificationHandler,
    NotificationError,
    NotificationHandlerProtocol,
    Priority,
    SentNotification,
    UnknownPriorityError,
)
from sagalog.actors._outputs import CancelTimer, Emit, Output, Schedule
from sagalog.actors._report import (
    ErrorDetail,
    ManualReviewReport,
    RecoveryAction,
    ReportMetadata,
    ReportSummary,
    render_report,
    system_metadata,
)
from sagalog.actors._retry import RetryPolicy
from sagalog.actors._runtime import RUNTIME_STREAM, Role, Runtime
from sagalog.actors._timers import TimerService

__all__ = [
    "RUNTIME_STREAM",
    "Actor",
    "ActorContext",
    "ActorCrashedError",
    "ActorDefinitionError",
    "ActorGaveUpError",
    "ActorRuntimeError",
    "CancelTimer",
    "Clock",
    "ClockProtocol",
    "DeliveryFailure",
    "Emit",
    "ErrorDetail",
    "HandlerOutputError",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "ManualReviewNotifier",
    "ManualReviewReport",
    "MockNotificationHandler",
    "NotificationError",
    "NotificationHandlerProtocol",
    "Output",
    "Priority",
    "RecoveryAction",
    "ReportMetadata",
    "ReportSummary",
    "RetryPolicy",
    "Role",
    "Runtime",
    "RuntimeStateError",
    "Schedule",
    "SentNotification",
    "SystemClock",
    "TimerHandle",
    "TimerService",
    "UnknownPriorityError",
    "VirtualClock",
    "handles",
    "render_report",
    "system_metadata",
]
