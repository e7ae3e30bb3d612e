"""The wheel as a user installs it: one top-level name, every module importable, no clash.

These tests build the wheel from a copy of the tree (an in-tree ``build/lib`` keeps files of
modules since removed, and a wheel built there would carry them), then use it from a
directory outside the tree, where the tree's top-level folders are not importable.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("events", "store", "actors", "sagas", "run.py", "setup.py", "pyproject.toml",
           "README.md", "MANIFEST.in", "docs/examples")
"""What the build reads: the packages, the launcher, the metadata and the examples."""


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the current tree, built once per session from a clean copy."""
    tree = tmp_path_factory.mktemp("tree")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name,
                            ignore=shutil.ignore_patterns("__pycache__", "work", "*.db"))
        elif source.exists():
            shutil.copy2(source, tree / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(tree)],
                   check=True, capture_output=True, text=True, timeout=300)
    (built,) = out.glob("sagalog-*.whl")
    return built


def record(wheel: Path) -> list[str]:
    """The paths the wheel's RECORD lists."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        rows = csv.reader(io.StringIO(archive.read(name).decode()))
        return [row[0] for row in rows]


def unpacked(wheel: Path, where: Path) -> Path:
    """The wheel's files under ``where`` (a site directory for PYTHONPATH)."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(where)
    return where


def modules_in(paths: list[str]) -> list[str]:
    """The dotted module names of the ``.py`` files among ``paths``."""
    names = []
    for path in paths:
        if path.endswith(".py"):
            parts = path.removesuffix(".py").split("/")
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(parts))
    return sorted(names)


def test_the_wheel_installs_one_top_level_name_and_every_module_of_the_tree(wheel: Path) -> None:
    """Only ``sagalog`` (and its dist-info) is installed; no module of the tree is left out."""
    paths = record(wheel)
    tops = {path.split("/", 1)[0] for path in paths}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"sagalog"}
    expected = {"sagalog.cli", "sagalog.__main__", "sagalog"}
    for folder in ("events", "store", "actors", "sagas"):
        for source in (ROOT / folder).rglob("*.py"):
            parts = source.relative_to(ROOT).with_suffix("").parts
            dotted = ".".join(("sagalog", *parts))
            expected.add(dotted.removesuffix(".__init__"))
    assert expected - set(modules_in(paths)) == set()
    assert any(path.startswith("sagalog/examples/jobs/") for path in paths), "main job's data"
    assert "sagalog/py.typed" in paths, "PEP 561: typed, subpackages included"


def test_every_module_the_wheel_lists_imports_outside_the_tree(wheel: Path, tmp_path: Path) -> None:
    """Each module of RECORD imports in a fresh interpreter run from another directory."""
    site = unpacked(wheel, tmp_path / "site")
    modules = [name for name in modules_in(record(wheel)) if name != "sagalog.__main__"]
    script = textwrap.dedent("""
        import importlib, sys
        failed = []
        for name in sys.argv[1:]:
            try:
                module = importlib.import_module(name)
            except Exception as error:  # report every failure, not the first
                failed.append(f"{name}: {type(error).__name__}: {error}")
                continue
            if not module.__file__.startswith(sys.path[1]):
                failed.append(f"{name} came from {module.__file__}")
        print("\\n".join(failed) or "ok")
        """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-c", script, *modules], cwd=elsewhere,
                            env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert len(modules) > 100


def test_python_dash_m_sagalog_runs_the_command_line(wheel: Path, tmp_path: Path) -> None:
    """``python -m sagalog`` is the command line: ``--help`` lists the commands."""
    site = unpacked(wheel, tmp_path / "site")
    result = subprocess.run([sys.executable, "-m", "sagalog", "--help"], cwd=tmp_path,
                            env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: sagalog")
    assert "what-if" in result.stdout


def test_the_index_events_package_installs_beside_sagalog(wheel: Path, tmp_path: Path) -> None:
    """PyPI's ``Events`` and sagalog share a site directory; each keeps its own files."""
    alone = tmp_path / "alone"
    both = tmp_path / "both"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target"]
    subprocess.run([*pip, str(alone), "Events==0.5"], check=True, timeout=300)
    subprocess.run([*pip, str(both), "Events==0.5", str(wheel)], check=True, timeout=300)
    events_init = Path("events", "__init__.py")
    assert (both / events_init).read_bytes() == (alone / events_init).read_bytes()
    script = textwrap.dedent("""
        import events, sagalog.events
        from events import Events                      # the index's package
        from sagalog.events import Event               # sagalog's
        hook = Events()
        hook.on_change += lambda: None
        print(events.__file__, sagalog.events.__file__, Event.__name__)
        """)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path,
                            env={"PYTHONPATH": str(both), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    theirs, ours, name = result.stdout.split()
    assert theirs == str(both / events_init)
    assert ours == str(both / "sagalog" / "events" / "__init__.py")
    assert name == "Event"


def test_a_user_project_with_its_own_events_and_store_modules(wheel: Path, tmp_path: Path) -> None:
    """An app whose own ``events.py`` and ``store.py`` sit beside it runs sagalog's runtime."""
    site = unpacked(wheel, tmp_path / "site")
    project = tmp_path / "project"
    project.mkdir()
    (project / "events.py").write_text("USER_EVENTS = ['signup']\n")
    (project / "store.py").write_text("USER_STORE = {'kind': 'shelf'}\n")
    (project / "app.py").write_text(textwrap.dedent("""
        import events, store                      # the application's own modules
        from sagalog.actors import Actor, Runtime, handles
        from sagalog.events import Command, Event

        class Greet(Command, name="app.Greet"):
            who: str

        class Greeted(Event, name="app.Greeted"):
            who: str

        class Greeter(Actor):
            @handles(Greet)
            def greet(self, message, envelope):
                return Greeted(who=message.who)

        with Runtime("app.db", durability="off") as runtime:
            runtime.add(Greeter)
            runtime.append("greetings", [Greet(who=events.USER_EVENTS[0])])
            assert runtime.wait_until_idle(30)
            types = [record.type for record in runtime.store.read_all()]
        print(store.USER_STORE["kind"], types)
        """))
    result = subprocess.run([sys.executable, "app.py"], cwd=project,
                            env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "shelf ['app.Greet', 'app.Greeted']"
