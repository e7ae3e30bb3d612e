"""Retry policies: how often a failing handler is tried again, and how long to wait."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Try a handler up to ``attempts`` times, waiting longer after each failure.

    The waits are on the runtime's clock, so a test with a virtual clock advances them
    instead of sleeping. The defaults (3 attempts, 30 s apart) are the master
    pipeline's.
    """

    attempts: int = 3
    """Total tries, the first included; 1 means no retry."""
    delay: float = 30.0
    """Seconds to wait before the second try."""
    backoff: float = 1.0
    """Each later wait is the previous one times this."""
    max_delay: float = 3600.0
    """No wait is longer than this many seconds."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            msg = f"RetryPolicy.attempts must be >= 1, not {self.attempts}"
            raise ValueError(msg)
        if self.delay < 0 or self.backoff < 1 or self.max_delay < 0:
            msg = "RetryPolicy needs delay >= 0, backoff >= 1 and max_delay >= 0"
            raise ValueError(msg)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt`` (2 is the first retry)."""
        return float(min(self.delay * self.backoff ** max(attempt - 2, 0), self.max_delay))

    def gives_up_after(self, attempt: int) -> bool:
        """Whether try number ``attempt`` was the last one allowed."""
        return attempt >= self.attempts
