"""Turning sagalog's logs on: the library is silent until the application asks.

Every module of sagalog logs through loguru under its own name (``sagalog.store.sqlite._writer``,
``sagalog.actors._runtime``...). Importing this module disables the whole ``sagalog``
name once, as loguru advises for libraries, so importing sagalog never prints anything and
adds no sink. It is imported (by ``sagalog.actors`` and by the store's modules that log)
before any module that logs, and only once per process: a later import of another sagalog
package cannot silence logs the application has turned on (an import-time ``disable`` per
package did, when a command enabled logging before its lazy imports).

Two ways to turn the logs on, both at any time:
- ``logger.enable("sagalog")`` sends sagalog's lines to the sinks the application has;
- :func:`enable_logging` does the same and, given a sink, adds it with sagalog's format
  (once: calling it again replaces the sink it added, so no line is printed twice).

Hazard: ``logger.enable("sagalog")`` called before the store's first use (its names are
imported lazily) or the first import of ``sagalog.actors`` is undone by it;
:func:`enable_logging` never is.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from loguru import logger

from sagalog.events._text import printable

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["NAMESPACE", "enable_logging"]

NAMESPACE = "sagalog"
"""The loguru name that covers every module of sagalog."""

_FORMAT = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{name}</cyan>{extra[context]} - <level>{extra[printable_message]}</level>"
)

_added: list[int] = []
"""The sink :func:`enable_logging` added last (at most one), so a second call replaces it."""

logger.disable(NAMESPACE)


def _context(record: Record) -> None:
    """Set the bound context and the message, each escaped for a terminal.

    A job's source or a server's error text may hold escape sequences (see
    :mod:`sagalog.events._text`).
    """
    extras = record["extra"]
    shown = " ".join(f"{key}={printable(extras[key])}" for key in sorted(extras)
                     if key not in ("context", "printable_message"))
    extras["context"] = f" [{shown}]" if shown else ""
    extras["printable_message"] = printable(record["message"], multiline=True)


def enable_logging(sink: Any = None, level: str = "INFO") -> int | None:  # noqa: ANN401 - any loguru sink
    """Turn sagalog's logs on; with ``sink``, also send them there at ``level``.

    Without a sink, the lines go to whatever sinks the application already has. With one,
    the sink gets sagalog's lines only, formatted with their bound context (actor, saga,
    position), in colour on a terminal unless ``NO_COLOR`` is set and not empty
    (https://no-color.org; loguru itself does not read it); a sink this function added
    before is removed first, so calling it twice does not print each line twice. Returns
    the id of the sink added (for ``logger.remove``), or None.

    Example::

        import sys
        from sagalog.events import enable_logging
        enable_logging(sys.stderr, level="DEBUG")
    """
    logger.enable(NAMESPACE)
    if sink is None:
        return None
    while _added:
        try:
            logger.remove(_added.pop())
        except ValueError:  # the application removed it already
            pass
    colorize = False if os.environ.get("NO_COLOR") else None  # None: loguru asks isatty()
    sink_id = logger.add(sink, level=level, format=_FORMAT, filter=_filter, colorize=colorize)
    _added.append(sink_id)
    return sink_id


def _filter(record: Record) -> bool:
    name = record["name"] or ""
    if name != NAMESPACE and not name.startswith(NAMESPACE + "."):
        return False
    _context(record)
    return True
