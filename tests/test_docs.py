"""Every code block of the README and the docs runs, so the docs cannot rot.

Each ```python and ```bash block runs against the installed sagalog, in a fresh temporary
directory that holds a copy of ``docs/examples`` (as a checkout has). A block can say how
it runs with HTML comments on the lines right above it:

- ``<!-- not-run: REASON -->``: it is not run (installs packages, runs forever...); the
  reason is required and shown in the Markdown;
- ``<!-- continues -->``: it runs after the block before it on the same page, in the same
  directory and, for Python, the same interpreter (its names are still defined);
- ``<!-- file: NAME -->``: it is written to the file NAME for the blocks that continue it;
- ``<!-- needs: showcase -->``: the directory also holds ``showcase.db``, a copy of a log
  the main job wrote (one run of it per test session, shared).

A block and those that continue it form one test, run by one Python process: Python blocks
are executed in one namespace, bash blocks as ``bash -euo pipefail`` children. Data blocks
(json, text, ...) are not run; a ``json`` block must parse.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(
    path for path in DOCS.rglob("*.md") if DOCS / "examples" not in path.parents
)]
RUN = ("python", "bash")
"""Languages whose blocks run."""
DATA = ("json", "text", "toml", "mermaid", "jsonl")
"""Languages whose blocks are data or output: not run (json is parsed)."""
MARKERS = ("not-run", "continues", "file", "needs")
OPENING = re.compile(r"^(\s*)```(\S*)\s*$")
COMMENT = re.compile(r"^\s*<!--\s*([\w-]+)\s*(?::\s*(.*?))?\s*-->\s*$")
BLOCK_TIMEOUT = 100
"""Seconds one test's blocks may take together (pytest's own timeout is 120)."""


@dataclass
class Block:
    """One fenced code block and the markers above it."""

    page: Path
    line: int
    """The line of the block's first line of code, 1-based."""
    language: str
    code: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, in order, with their markers."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = OPENING.match(lines[index])
        if not opening or opening.group(2) == "":
            if opening:  # a bare ``` here opens a block with no language: refuse it
                pytest.fail(f"{page.relative_to(ROOT)}:{index + 1}: a code block needs a language")
            index += 1
            continue
        indent, language = opening.groups()
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        body = (line.removeprefix(indent) for line in lines[index + 1:end])
        code = textwrap.dedent("\n".join(body))
        markers: dict[str, str] = {}
        above = index - 1
        while above >= 0 and (comment := COMMENT.match(lines[above])):
            markers[comment.group(1)] = comment.group(2) or ""
            above -= 1
        blocks.append(Block(page, index + 2, language, code + "\n", markers))
        index = end + 1
    return blocks


ALL_BLOCKS = [block for page in PAGES for block in read_blocks(page)]


def groups() -> list[list[Block]]:
    """The runnable blocks, each with the blocks that continue it."""
    found: list[list[Block]] = []
    for block in ALL_BLOCKS:
        if "not-run" in block.markers or (block.language not in RUN
                                          and "file" not in block.markers):
            continue
        continues = "continues" in block.markers
        if continues and found and found[-1][0].page == block.page:
            found[-1].append(block)
        else:
            found.append([block])
    return found


GROUPS = groups()

DRIVER = r"""
import json, subprocess, sys
from pathlib import Path

namespace = {"__name__": "__main__"}
for block in json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")):
    where, code = block["where"], block["code"]
    print(f"--- {where}", file=sys.stderr, flush=True)
    if block["file"]:
        Path(block["file"]).write_text(code, encoding="utf-8")
    elif block["language"] == "python":
        padded = "\n" * (block["line"] - 1) + code  # tracebacks name the Markdown's lines
        exec(compile(padded, block["page"], "exec"), namespace)
    else:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", code], check=False)
        if result.returncode:
            sys.exit(f"{where}: the bash block exited {result.returncode}")
"""


WORKERS = 3
"""Groups run at once: they mostly wait on their subprocesses (2 cores: 3 keeps both busy)."""


def needs_showcase(group: list[Block]) -> bool:
    return any(block.markers.get("needs") == "showcase" for block in group)


def make_showcase(folder: Path) -> Path:
    """A log the main job wrote (every workflow once), for the blocks that read one."""
    result = subprocess.run(
        [sys.executable, "-m", "sagalog", "-q", "--db", "showcase.db"], cwd=folder,
        capture_output=True, text=True, timeout=BLOCK_TIMEOUT, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return folder / "showcase.db"


def run_group(group: list[Block], folder: Path, showcase: Future[Path] | None) -> str:
    """Run ``group`` in ``folder``; return "" or what went wrong, with its output."""
    shutil.copytree(DOCS / "examples", folder / "docs" / "examples")
    if showcase is not None:
        log = showcase.result()
        for part in log.parent.glob(log.name + "*"):
            if part.is_file() and not part.name.endswith(("-shm", ".lock")):
                shutil.copy2(part, folder / part.name)
    spec = [{"where": block.where, "page": str(block.page.relative_to(ROOT)), "line": block.line,
             "language": block.language, "code": block.code, "file": block.markers.get("file")}
            for block in group]
    (folder / ".blocks.json").write_text(json.dumps(spec), encoding="utf-8")
    # Output to a file, not a pipe, and a session of its own: a process a failed block
    # left in the background (a worker started with &) cannot hold the test up, and is
    # killed with its group when the driver ends.
    with (folder / ".output").open("w+", encoding="utf-8") as output:
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER, ".blocks.json"], cwd=folder, env=environment(),
            stdout=output, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        try:
            code: int | None = driver.wait(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
        output.seek(0)
        printed = output.read()
    if code == 0:
        return ""
    what = f"did not end within {BLOCK_TIMEOUT} s" if code is None else f"failed (exit {code})"
    return f"{group[0].where} {what}:\n{printed}"


@pytest.fixture(scope="session")
def block_results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  ) -> Iterator[dict[str, Future[str]]]:
    """Every selected group, started at once on a few threads: its id -> its outcome."""
    selected = [item.callspec.params["group"] for item in request.session.items
                if isinstance(item, pytest.Function) and item.originalname == "test_block_runs"]
    with ThreadPoolExecutor(WORKERS) as pool:
        showcase = (pool.submit(make_showcase, tmp_path_factory.mktemp("showcase"))
                    if any(needs_showcase(group) for group in selected) else None)
        # The groups that need no showcase go first, while the showcase is being made.
        ordered = sorted(selected, key=needs_showcase)
        yield {group[0].where: pool.submit(
            run_group, group, tmp_path_factory.mktemp("block"),
            showcase if needs_showcase(group) else None) for group in ordered}


def environment() -> dict[str, str]:
    """The blocks' environment: the installed ``sagalog`` script first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SAGALOG_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("COLUMNS", None)
    return env


@pytest.mark.parametrize("group", GROUPS, ids=[group[0].where for group in GROUPS])
def test_block_runs(group: list[Block], block_results: dict[str, Future[str]]) -> None:
    """The block (and the blocks that continue it) run to the end without an error."""
    failure = block_results[group[0].where].result(timeout=BLOCK_TIMEOUT * 3)
    assert not failure, failure


def test_every_block_not_run_says_why() -> None:
    """A skipped block carries a not-run marker with a reason; no block is skipped silently."""
    skipped = [block for block in ALL_BLOCKS if "not-run" in block.markers]
    assert skipped, "the README's set-up commands at least are marked not-run"
    for block in skipped:
        assert len(block.markers["not-run"].split()) >= 2, f"{block.where}: say why it is not run"
    for block in ALL_BLOCKS:
        assert block.language in RUN + DATA, (
            f"{block.where}: a ```{block.language} block is neither run nor data; use "
            f"python or bash, a data language ({', '.join(DATA)}), or mark it not-run")


def test_markers_are_known_and_continue_something() -> None:
    """Only the four markers exist, and a continued block follows a runnable one on its page."""
    runnable = {id(block) for group in GROUPS for block in group}
    for block in ALL_BLOCKS:
        unknown = set(block.markers) - set(MARKERS)
        assert not unknown, f"{block.where}: unknown marker {unknown}"
        if "needs" in block.markers:
            assert block.markers["needs"] == "showcase", f"{block.where}: needs what?"
        if "file" in block.markers:
            assert block.markers["file"], f"{block.where}: file, but no name"
        if "continues" in block.markers:
            assert id(block) in runnable, f"{block.where}: continues, but is not run"
    for group in GROUPS:
        assert "continues" not in group[0].markers, (
            f"{group[0].where}: continues, but no runnable block comes before it on its page")


SNIPPET = re.compile(r'^\s*--8<--\s+"([^"]+)"\s*$', re.MULTILINE)
"""A file included at build time (pymdownx.snippets), as a block of the page shows it."""


def test_json_blocks_parse() -> None:
    """A json block is valid JSON (a jsonl block: one JSON value per line), included files too."""
    checked = 0
    for block in ALL_BLOCKS:
        code = SNIPPET.sub(lambda match: (ROOT / match.group(1)).read_text(encoding="utf-8"),
                           block.code)
        if block.language == "json":
            json.loads(code)
            checked += 1
        elif block.language == "jsonl":
            for line in code.splitlines():
                if line.strip():
                    json.loads(line)
            checked += 1
    assert checked, "the workflow pages show their configuration files"


def test_readme_opens_with_the_two_commands_ci_runs() -> None:
    """The README's first block is CI's: exactly the install-and-run and the test commands."""
    first = read_blocks(ROOT / "README.md")[0]
    assert first.language == "bash"
    assert first.code.splitlines() == [
        "python -m pip install . && python run.py",
        "python -m pip install '.[dev]' && python -m pytest",
    ]


# --- the build's generated parts (docs/hooks.py), checked without building the site -----


def load_hooks() -> ModuleType:
    """docs/hooks.py, loaded by path as mkdocs loads it."""
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MESSAGE_PAGES = {
    "sagalog.events.orders": "workflows/orders.md",
    "sagalog.events.jobs": "workflows/jobs.md",
    "sagalog.events.pipeline": "workflows/data-pipeline.md",
    "sagalog.events.master": "workflows/master-pipeline.md",
    "sagalog.events.etl": "workflows/etl.md",
    "sagalog.events.runtime": "concepts/actors.md",
    "sagalog.events.sagas": "concepts/decisions.md",
}


@pytest.mark.parametrize(("module_name", "page"), MESSAGE_PAGES.items())
def test_each_message_module_has_a_generated_table_naming_every_type(
        module_name: str, page: str) -> None:
    """The page holds the marker, and the table built for it names each registered type."""
    from sagalog.events import Message

    assert f"<!-- messages: {module_name} -->" in (DOCS / page).read_text(encoding="utf-8")
    table = load_hooks().message_tables(module_name)
    module = importlib.import_module(module_name)
    types = [value for value in vars(module).values() if isinstance(value, type)
             and issubclass(value, Message) and "message_type" in vars(value)]
    assert types
    for message in types:
        row = f"<td><code>{message.message_type}</code>"
        assert row in table, f"{message.message_type} is missing from {page}'s table"
        assert f"<td>{message.message_version}</td><td>{message.message_kind}</td>" in table


def test_every_events_module_with_messages_has_a_page() -> None:
    """A new workflow's message module cannot be left out of the docs."""
    folder = ROOT / "events"
    modules = {f"sagalog.events.{path.stem}" for path in folder.glob("*.py")
               if not path.name.startswith("_")}
    assert modules == set(MESSAGE_PAGES)


def test_field_types_read_as_written() -> None:
    """Types lose their module prefixes, unions read with |, and shapes of the page link."""
    hooks = load_hooks()
    table = hooks.message_tables("sagalog.events.jobs")
    assert '<code>job</code>: <code><a href="#shape-customjob">CustomJob</a> | ' in table
    assert "typing." not in table
    assert "sagalog.events." not in table.replace("generated from <code>sagalog.events.jobs", "")


def test_cli_reference_has_every_command_with_its_help() -> None:
    """Each subcommand (and sub-subcommand) gets a heading and its --help, from the parser."""
    from sagalog.cli import parser

    top = parser if isinstance(parser, argparse.ArgumentParser) else parser()
    reference = load_hooks().cli_reference()
    assert reference.startswith("## `sagalog`")
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                assert f"## `sagalog {name}`" in reference, name
                assert command.format_usage().split()[2] in reference


def test_an_included_root_file_links_into_the_docs() -> None:
    """CHANGELOG.md links docs/x.md from the root; on the site the link is x.md."""
    changelog = load_hooks().included("CHANGELOG.md")
    assert "](versioning.md)" in changelog
    assert "](docs/" not in changelog
