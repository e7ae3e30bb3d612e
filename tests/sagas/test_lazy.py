"""``store``, ``sagas`` and ``sagas.history`` import their public names on first use.

What type checkers read (the imports under ``TYPE_CHECKING``) and what runs (the
``__getattr__`` from ``sagas._lazy``) are two lists of the same names: these tests hold
them equal, and hold ``list`` clear of the saga actor, the actor runtime and the store's
writer (it reads the runs through a read-only store).
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sagalog.sagas.history
from sagalog.store import open_store
from tests.support import Deposited

ROOT = Path(__file__).resolve().parents[2]


def type_checking_imports(package: str) -> dict[str, str]:
    """Each name the package's ``if TYPE_CHECKING:`` block imports -> the module it is from."""
    source = Path(importlib.import_module(package).__file__ or "").read_text(encoding="utf-8")
    block = next(node for node in ast.parse(source).body
                 if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    return {alias.name: node.module or "" for node in block.body
            if isinstance(node, ast.ImportFrom) for alias in node.names}


@pytest.mark.parametrize("package", ["sagalog.store", "sagalog.sagas", "sagalog.sagas.history"])
def test_every_public_name_resolves_to_the_object_type_checkers_see(package: str) -> None:
    homes = type_checking_imports(package)
    assert sorted(homes) == sorted(importlib.import_module(package).__all__)
    code = ("import importlib, json, sys\n"  # a fresh interpreter: nothing imported yet
            f"package = importlib.import_module({package!r})\n"
            "homes = json.loads(sys.argv[1])\n"
            "print([name for name, home in homes.items() if getattr(package, name)\n"
            "       is not getattr(importlib.import_module(home), name)])")
    result = subprocess.run([sys.executable, "-c", code, json.dumps(homes)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError,
                       match=r"module 'sagalog\.sagas\.history' has no attribute 'nope'"):
        _ = sagalog.sagas.history.nope  # type: ignore[attr-defined]
    with pytest.raises(ImportError, match="cannot import name 'nope'"):
        from sagalog.sagas import nope  # type: ignore[attr-defined]  # noqa: F401


def test_the_runs_listing_loads_no_actor(tmp_path: Path) -> None:
    log = tmp_path / "log.db"
    with open_store(log) as store:
        store.append("acct", [Deposited(account="a", amount=1)], correlation_id="run-1")
    code = ("import sys\n"
            "from sagalog.sagas.history import newest_runs, render_runs\n"
            "from sagalog.sagas.kinds import KINDS, run_status_hooks\n"
            "runs, total = newest_runs(sys.argv[1], KINDS, 10, run_status=run_status_hooks())\n"
            "assert render_runs(runs, 10, total=total).endswith('1 runs')\n"
            "print(' '.join(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code, str(log)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.split()
    assert "sagalog.store.sqlite._store" in loaded  # it did read the log
    heavy = ("sagalog.actors", "sagalog.sagas._actor", "sagalog.sagas.catalog",
             "sagalog.store.sqlite._writer", "aiosqlite", "loguru", "pykka", "pydantic")
    assert [name for name in heavy if name in loaded] == []
