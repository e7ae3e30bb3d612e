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

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

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


@pytest.fixture(scope="session")
def showcase_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log the main job wrote (every workflow once), for the blocks that read one."""
    folder = tmp_path_factory.mktemp("showcase")
    result = subprocess.run(
        [sys.executable, "-m", "sagalog", "-q", "--db", "showcase.db"], cwd=folder,
        capture_output=True, text=True, timeout=BLOCK_TIMEOUT, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return folder / "showcase.db"


def environment() -> dict[str, str]:
    """The blocks' environment: the installed ``sagalog`` script first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SAGALOG_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("COLUMNS", None)
    return env


@pytest.mark.parametrize("group", GROUPS, ids=[group[0].where for group in GROUPS])
def test_block_runs(group: list[Block], tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The block (and the blocks that continue it) run to the end without an error."""
    shutil.copytree(DOCS / "examples", tmp_path / "docs" / "examples")
    if any(block.markers.get("needs") == "showcase" for block in group):
        log: Path = request.getfixturevalue("showcase_log")
        for part in log.parent.glob(log.name + "*"):
            if part.is_file() and not part.name.endswith(("-shm", ".lock")):
                shutil.copy2(part, tmp_path / part.name)
    spec = [{"where": block.where, "page": str(block.page.relative_to(ROOT)), "line": block.line,
             "language": block.language, "code": block.code, "file": block.markers.get("file")}
            for block in group]
    (tmp_path / ".blocks.json").write_text(json.dumps(spec), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, ".blocks.json"], cwd=tmp_path, env=environment(),
        capture_output=True, text=True, timeout=BLOCK_TIMEOUT, check=False,
    )
    assert result.returncode == 0, (
        f"{group[0].where} failed:\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


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


def test_json_blocks_parse() -> None:
    """A json block is valid JSON (a jsonl block: one JSON value per line)."""
    for block in ALL_BLOCKS:
        if block.language == "json":
            json.loads(block.code)
        elif block.language == "jsonl":
            for line in block.code.splitlines():
                if line.strip():
                    json.loads(line)


def test_readme_opens_with_the_two_commands_ci_runs() -> None:
    """The README's first block is CI's: exactly the install-and-run and the test commands."""
    first = read_blocks(ROOT / "README.md")[0]
    assert first.language == "bash"
    assert first.code.splitlines() == [
        "python -m pip install . && python run.py",
        "python -m pip install '.[dev]' && python -m pytest",
    ]
