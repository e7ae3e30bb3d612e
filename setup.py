"""The build step that maps the repository's folders into one import namespace, ``sagalog``.

The repository keeps the layout its owner set: ``events/ store/ actors/ sagas/`` and
``run.py`` at the top level. Installed, they are ``sagalog.events``, ``sagalog.store``,
``sagalog.actors``, ``sagalog.sagas`` and ``sagalog.cli``, and nothing else is installed at
the top level (a distribution that installs ``events`` overwrites other projects' files).

The packages are found here, not listed by hand (a hand-kept list once left out
``sagas.history``): every folder with an ``__init__.py`` under the four, mapped by
``package_dir``. Two things a mapping cannot do are done in ``build_py``: ``run.py``
becomes the module ``sagalog/cli.py``, and the ``sagalog`` package itself gets its three
small files (written below, so they need no folder of their own). Editable installs use
setuptools' "strict" mode, a tree of links to the sources, because only that mode carries
a renamed file: edits show at once, a new module needs ``pip install -e .`` again.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

ROOT = Path(__file__).resolve().parent
FOLDERS = ("events", "store", "actors", "sagas")
"""The top-level folders that install as ``sagalog.<folder>``."""
EXAMPLES = ROOT / "docs" / "examples"
"""The workflows' example configurations and data, installed as ``sagalog/examples``: the
main job (``sagalog`` with no command) runs them, also from an installed wheel."""
SCRATCH = frozenset({"work", "build", "__pycache__", ".gitignore"})
"""What a run leaves inside an example folder: never installed."""


def packages() -> dict[str, str]:
    """Each package's dotted name under ``sagalog`` -> its folder, relative to the root."""
    found = {}
    for folder in FOLDERS:
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(ROOT)
            found["sagalog." + ".".join(relative.parts)] = relative.as_posix()
    return found

INIT = '''"""sagalog: an embeddable, event-sourced actor runtime for sagas and pipelines.

``sagalog.events`` (typed messages), ``sagalog.store`` (the append-only log),
``sagalog.actors`` (the runtime), ``sagalog.sagas`` (sagas, workflows and the replay
tools) and ``sagalog.cli`` (the command line). Importing sagalog prints nothing and adds no
log sink: see :func:`sagalog.events.enable_logging`.
"""

__version__ = {version!r}
__all__ = ["__version__"]
'''

MAIN = '''"""``python -m sagalog``: the command line."""

from sagalog.cli import run

run()
'''


def examples() -> dict[str, Path]:
    """Each example file's path inside the ``sagalog`` package -> the file in the tree."""
    found = {}
    for path in sorted(EXAMPLES.rglob("*")):
        relative = path.relative_to(EXAMPLES)
        if path.is_file() and path.suffix != ".db" and not SCRATCH.intersection(relative.parts):
            found[str(Path("examples", relative))] = path
    return found


class BuildPy(build_py):
    """``build_py`` that also writes the ``sagalog`` package's own files and ``cli.py``."""

    def _generated(self) -> dict[str, str]:
        version = self.distribution.get_version()
        return {"__init__.py": INIT.format(version=version), "__main__.py": MAIN, "py.typed": ""}

    def _cli(self) -> str:
        return str(Path(self.build_lib, "sagalog", "cli.py"))

    def run(self) -> None:
        """Build the packages, then write the ``sagalog`` package's files beside them."""
        super().run()
        package = Path(self.build_lib, "sagalog")
        package.mkdir(parents=True, exist_ok=True)
        for name, text in self._generated().items():
            (package / name).write_text(text, encoding="utf-8")
        if not self.editable_mode:  # an editable install links these to the tree instead
            for built, source in self._linked().items():
                self.mkpath(str(Path(built).parent))
                self.copy_file(str(source), built)
            self.byte_compile([str(package / "__init__.py"), str(package / "__main__.py"),
                               self._cli()])

    def _linked(self) -> dict[str, Path]:
        """Built file -> its source in the tree: ``cli.py`` from ``run.py``, and the examples."""
        package = Path(self.build_lib, "sagalog")
        linked = {self._cli(): ROOT / "run.py"}
        linked.update({str(package / inside): source for inside, source in examples().items()})
        return linked

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:  # noqa: FBT001, FBT002 - setuptools' signature
        """The built files, the written ones included (an editable install copies those)."""
        package = Path(self.build_lib, "sagalog")
        generated = [str(package / name) for name in self._generated()]
        outputs = [*super().get_outputs(include_bytecode), *generated]
        return [*outputs, *(built for built in self._linked() if built not in outputs)]

    def get_output_mapping(self) -> dict[str, str]:
        """Built file -> source, for the files an editable install links to the tree."""
        linked = {built: str(source) for built, source in self._linked().items()}
        return {**super().get_output_mapping(), **linked}


class StrictEditable(editable_wheel):
    """Editable installs as a link tree: the only mode that carries ``run.py`` as ``cli.py``."""

    def finalize_options(self) -> None:
        """Default to ``strict`` unless ``--config-settings editable_mode=...`` says otherwise."""
        self.mode = self.mode or "strict"
        super().finalize_options()


PACKAGES = packages()
setup(
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={name: ["py.typed"] for name in PACKAGES},
    cmdclass={"build_py": BuildPy, "editable_wheel": StrictEditable},
)
