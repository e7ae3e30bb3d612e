"""A whole download's deadline, on an injectable monotonic clock.

The per-read timeout bounds one wait for the server; a server that sends a byte just
inside it, again and again, never trips it. The deadline bounds the sum: the connect,
every redirect and every read. Each wait for the server is bounded by whichever is
nearer, the read timeout or the deadline, so a download ends at its deadline (give or
take one socket read), not one read timeout later. Name resolution is the one wait no
socket timeout reaches.
"""

from __future__ import annotations

from collections.abc import Callable

from sagalog.actors._etl_errors import DeadlineExceededError

__all__ = ["Deadline"]


class Deadline:
    """``seconds`` from now on ``clock`` for the download of ``url``."""

    def __init__(self, seconds: float, url: str, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self.url = url
        self._clock = clock
        self._at = clock() + seconds

    def exceeded(self) -> DeadlineExceededError:
        """The error a download past this deadline fails with."""
        msg = (f"deadline: the download of {self.url} took longer than {self.seconds:g} s "
               f"(connect, redirects and reads)")
        return DeadlineExceededError(msg)

    def left(self) -> float:
        """Seconds left.

        Raises:
            DeadlineExceededError: none are.

        """
        left = self._at - self._clock()
        if left <= 0:
            raise self.exceeded()
        return left

    def wait(self, read_timeout: float) -> tuple[float, bool]:
        """How long the next wait for the server may last, and whether the deadline says so.

        Raises:
            DeadlineExceededError: the deadline has passed.

        """
        left = self.left()
        return (left, True) if left < read_timeout else (read_timeout, False)
