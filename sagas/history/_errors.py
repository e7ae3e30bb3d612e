"""Errors of the history tools: each names what was asked for and why it cannot be."""

from __future__ import annotations

from events import SagalogError

__all__ = ["BundleExistsError", "PositionOutOfRangeError", "UnknownRunError"]


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
