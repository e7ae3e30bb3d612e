"""A package's public names, imported on first use rather than with the package.

``sagas`` re-exports the saga actor (and with it the actor runtime and the store), and
``sagas.history`` every history tool. ``python run.py list`` needs none of them, only
the runs listing inside ``sagas.history``, yet importing that module imported both
packages whole: 0.12-0.15 s of the 0.4 s ``list`` took on a 1,000,000-event log. So
each of the two packages imports its names for type checkers only, and gets a module
``__getattr__`` (PEP 562) that imports a name's module the first time the name is read.
``tests/sagas/test_lazy.py`` holds the two lists equal.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["lazy_names"]


def lazy_names(package: str, homes: Mapping[str, tuple[str, ...]]) -> Callable[[str], object]:
    """The module ``__getattr__`` of ``package``, whose public names live in ``homes``.

    ``homes`` maps each submodule (its name inside the package, e.g. ``"_runs"``) to the
    names it defines. A name's module is imported when the name is first read; the value
    is then kept in the package, so later reads are ordinary attribute reads.
    """
    where = {name: f"{package}.{module}" for module, names in homes.items() for name in names}
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> object:  # noqa: N807 - the name PEP 562 looks for
        home = where.get(name)
        if home is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__
