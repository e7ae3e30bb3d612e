"""Turning sagalog's logs on: the library is silent until the application asks.

Each package calls ``logger.disable(<package>)`` at import, as loguru advises for
libraries, so importing sagalog never prints anything and adds no sink. One call,
:func:`enable_logging`, turns all four packages on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["PACKAGES", "enable_logging"]

PACKAGES = ("events", "store", "actors", "sagas")
"""The packages whose log lines :func:`enable_logging` turns on."""

_FORMAT = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{name}</cyan>{extra[context]} - <level>{message}</level>"
)


def _context(record: Record) -> None:
    extras = record["extra"]
    shown = " ".join(f"{key}={extras[key]}" for key in sorted(extras) if key != "context")
    extras["context"] = f" [{shown}]" if shown else ""


def enable_logging(sink: Any = None, level: str = "INFO") -> int | None:  # noqa: ANN401 - any loguru sink
    """Turn sagalog's logs on; with ``sink``, also send them there at ``level``.

    Without a sink, the lines go to whatever sinks the application already has.
    Returns the id of the sink added (for ``logger.remove``), or None.

    Example::

        import sys
        from events import enable_logging
        enable_logging(sys.stderr, level="DEBUG")
    """
    for package in PACKAGES:
        logger.enable(package)
    if sink is None:
        return None
    return logger.add(
        sink,
        level=level,
        format=_FORMAT,
        filter=_filter,
    )


def _filter(record: Record) -> bool:
    name = record["name"] or ""
    if name.split(".", 1)[0] not in PACKAGES:
        return False
    _context(record)
    return True
