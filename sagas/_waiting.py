"""Waiting for runs to end: the one loop every ``wait_for_*`` reads its records through.

A wait used to block on the log for its whole timeout (600 s for orders) and then say only
"N orders did not end", even when the runtime had given up on an actor those runs needed,
or an actor was paused on a full disk. Here the wait looks at the runtime between short
slices: an actor given up on ends the wait at once with that error and its cause, and a
timeout says which actors are paused and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagalog.actors import Runtime
    from sagalog.events import Envelope, Message
    from sagalog.store import SubscriptionProtocol

__all__ = ["CHECK_S", "next_batch"]

CHECK_S = 0.25
"""Longest a wait blocks on the log before it looks at the runtime's actors again."""


def next_batch(
    runtime: Runtime,
    subscription: SubscriptionProtocol,
    limit: int,
    timeout: float,
    unfinished: Callable[[], str],
) -> list[Envelope[Message]]:
    """The next records of ``subscription``, waiting up to ``timeout`` s for one.

    ``unfinished`` says what is still awaited (``"3 orders"``), for the timeout's message.

    Raises:
        ActorGaveUpError: the runtime gave up on an actor (died past ``max_restarts``):
            the runs waiting for it would never end.
        TimeoutError: nothing arrived within ``timeout``; the message names the actors
            paused on a storage fault, if any, and their fault.

    """
    deadline = time.monotonic() + timeout
    while True:
        runtime.check_actors()
        left = deadline - time.monotonic()
        batch = subscription.next_batch(limit, timeout=max(min(left, CHECK_S), 0.0))
        if batch:
            return batch
        if left <= 0:
            runtime.check_actors()
            paused = runtime.describe_pauses()
            msg = f"{unfinished()} did not end within {timeout:g} s" + (
                f" ({paused})" if paused else "")
            raise TimeoutError(msg)
