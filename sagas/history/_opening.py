"""A history tool reads a store it is given, or opens its target read-only and closes it.

Every tool takes either: an opened store (anything that satisfies
:class:`sagalog.store.LogReaderProtocol`, left open for the caller), or a target (a path,
``sqlite:PATH``, ``memory:NAME``) opened with ``open_store(target, read_only=True)`` for
the call. Nothing here knows a backend: the store does the reading.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sagalog.events import Registry
    from sagalog.store import LogReaderProtocol, RunStatusHook

__all__ = ["Log", "reading"]

Log: TypeAlias = "LogReaderProtocol | str | os.PathLike[str]"
"""What a history tool reads: an opened store, or a target to open read-only."""


@contextlib.contextmanager
def reading(
    log: Log,
    *,
    run_status: Iterable[RunStatusHook] = (),
    registry: Registry | None = None,
) -> Iterator[LogReaderProtocol]:
    """``log`` itself if it is a store; else its target opened read-only, closed after.

    ``run_status`` and ``registry`` apply to a target only (a store has its own): the
    hooks give runs their status on a log an older sagalog wrote (see
    :func:`sagalog.sagas.kinds.run_status_hooks`).

    Raises:
        StoreError: the target is empty, names no backend, or is not a readable log
            (the store's own errors, which name it).

    """
    if not isinstance(log, (str, os.PathLike)):
        yield log
        return
    from sagalog.store import open_store  # noqa: PLC0415 - light: the backend on use

    with open_store(log, read_only=True, run_status=run_status, registry=registry) as store:
        yield store
