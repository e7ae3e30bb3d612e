"""The actor runtime: pykka actors that talk only through the log."""

from loguru import logger

from actors._actor import Actor, ActorContext, ActorCrashedError
from actors._clock import Clock, ClockProtocol, SystemClock, TimerHandle, VirtualClock
from actors._errors import (
    ActorDefinitionError,
    ActorRuntimeError,
    HandlerOutputError,
    RuntimeStateError,
)
from actors._handlers import handles
from actors._ledger import Ledger, LedgerEntry, LedgerError
from actors._notify import (
    DeliveryFailure,
    ManualReviewNotifier,
    MockNotificationHandler,
    NotificationError,
    NotificationHandlerProtocol,
    Priority,
    SentNotification,
    UnknownPriorityError,
)
from actors._outputs import CancelTimer, Emit, Output, Schedule
from actors._report import (
    ErrorDetail,
    ManualReviewReport,
    RecoveryAction,
    ReportMetadata,
    ReportSummary,
    render_report,
    system_metadata,
)
from actors._retry import RetryPolicy
from actors._runtime import RUNTIME_STREAM, Runtime
from actors._timers import TimerService

__all__ = [
    "RUNTIME_STREAM",
    "Actor",
    "ActorContext",
    "ActorCrashedError",
    "ActorDefinitionError",
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

# A library adds no sink and stays quiet until the application opts in: see README "Logging".
logger.disable("actors")
