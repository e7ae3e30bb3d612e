"""Errors of the history tools: each names what was asked for and why it cannot be."""

from __future__ import annotations

from sagalog.events import SagalogError

__all__ = ["BundleExistsError", "PositionOutOfRangeError", "TimeOutOfRangeError", "UnknownRunError",
           "UnknownSagaError"]


class UnknownRunError(SagalogError, LookupError):
    """No record of the log belongs to the asked-for saga or run."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no saga or run {run_id!r} in this log "
                         "(ids are the correlation ids that `list` shows)")
        self.run_id = run_id


class PositionOutOfRangeError(SagalogError, LookupError):
    """The asked-for position is not in the log."""

    def __init__(self, position: int, last: int) -> None:
        super().__init__(f"position {position} is not in the log (it holds 1 to {last})"
                         if last else f"position {position} is not in the log (it is empty)")
        self.position = position
        self.last = last


class BundleExistsError(SagalogError, FileExistsError):
    """The bundle's file exists already; it is replaced only when asked to (``--force``)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} exists already (--force replaces it)")
        self.path = path


class TimeOutOfRangeError(SagalogError, LookupError):
    """The log holds no record at or before the asked-for time."""

    def __init__(self, moment: str, first: str | None) -> None:
        super().__init__(f"no record at or before {moment} (the log begins at {first})"
                         if first else f"no record at or before {moment} (the log is empty)")
        self.moment = moment
        self.first = first


class UnknownSagaError(SagalogError, LookupError):
    """No saga definition has the asked-for name."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no saga named {name!r} (known: {', '.join(sorted(known))})")
        self.name = name
        self.known = known
