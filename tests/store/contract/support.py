"""Helpers the contract tests share: a clock the test moves, and batches of messages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support import Deposited, Withdrawn

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
"""The first moment a :class:`ManualClock` reads."""


class ManualClock:
    """A clock for ``recorded_at`` that moves only when the test says (no sleeping)."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move on by ``seconds``; returns the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


def deposits(count: int, account: str = "a", start: int = 0) -> list[Deposited]:
    """``count`` distinct deposits (amounts ``start``, ``start + 1``, ...)."""
    return [Deposited(account=account, amount=start + n) for n in range(count)]


def mixed(count: int, account: str = "a") -> list[Deposited | Withdrawn]:
    """``count`` messages, every third a withdrawal: a log with a rarer type in it."""
    return [(Withdrawn if n % 3 == 0 else Deposited)(account=account, amount=n)
            for n in range(count)]


class Background:
    """One call run on a thread of its own; :meth:`result` gives its answer or re-raises.

    A failure on a plain thread would only be a warning; here it fails the test with its
    own type and traceback.
    """

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(function, *args))
        self._thread.start()

    def _run(self, function: Callable[..., Any], *args: Any) -> None:
        try:
            self._value = function(*args)
        except BaseException as error:
            self._error = error

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def result(self, timeout: float) -> Any:
        """The call's answer, waiting up to ``timeout`` s; re-raises what it raised."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the call was still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value
