"""What the command line says about itself: --version, every command's --help, -q anywhere."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagalog import __version__
from sagalog.cli import HELP, parser

RUN = str(Path(__file__).resolve().parent.parent / "run.py")


def commands(
    command: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the tree with the words that reach it (() is sagalog itself)."""
    yield words, command
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*words, name))


def run(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, RUN, *arguments], capture_output=True, text=True,
                          timeout=120, check=False, cwd=cwd)


def test_version_prints_the_package_version() -> None:
    for program in ([sys.executable, RUN], [sys.executable, "-m", "sagalog"]):
        result = subprocess.run([*program, "--version"], capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"sagalog {__version__}\n"


def test_every_command_has_a_paragraph_examples_and_exit_codes() -> None:
    tree = list(commands(parser()))
    assert {" ".join(words) for words, _ in tree} == set(HELP)
    for words, command in tree:
        name = " ".join(words) or "sagalog"
        assert command.formatter_class is argparse.RawDescriptionHelpFormatter, name
        description = command.description or ""
        assert len(description.split()) >= 20, name
        assert "\n\n" not in description, f"{name}: one paragraph"
        epilog = command.epilog or ""
        examples, exits = epilog.split("\n\nexit codes:\n")
        assert examples.startswith("examples:\n  sagalog"), name
        codes = [int(code) for code in re.findall(r"^  (\d+) ", exits, re.MULTILINE)]
        assert codes == sorted(codes), name
        assert {0, 2} <= set(codes) <= {0, 1, 2, 3, 130}, name
        shown = command.format_help()
        assert description in shown, name
        assert epilog in shown, name


def test_every_example_parses_and_shows_its_command() -> None:
    for words, command in commands(parser()):
        own = 0
        for example in HELP[" ".join(words)].examples:
            line = re.split(r" [>|] | && ", example)[0]
            arguments = shlex.split(line)
            assert arguments[0] == "sagalog", example
            own += arguments[1:1 + len(words)] == list(words)
            if "COMMAND" not in arguments:
                parser().parse_args(arguments[1:])  # exits (fails the test) if it does not parse
        assert own, f"{command.prog}: no example of the command itself"


def test_help_speaks_of_what_a_user_can_act_on() -> None:
    for words, command in commands(parser()):
        shown = command.format_help().lower()
        for phrase in ("design note", "the issue", "note 00"):
            assert phrase not in shown, (words, phrase)


@pytest.mark.parametrize("words", [[], ["list"], ["jobs", "submit"], ["what-if"]])
def test_help_through_the_program(words: list[str]) -> None:
    result = run(*words, "--help")
    assert result.returncode == 0, result.stderr
    assert "\nexamples:\n  sagalog" in result.stdout
    assert "\nexit codes:\n  0    " in result.stdout


def test_quiet_and_db_are_taken_before_or_after_the_command(tmp_path: Path) -> None:
    loud = run("order", "--db", "a.db", cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert "sagalog." in loud.stderr  # the runtime's log lines
    for arguments in (["-q", "order", "--db", "a.db"], ["order", "--db", "a.db", "-q"],
                      ["--db", "a.db", "order", "--quiet"], ["--quiet", "--db", "a.db", "order"]):
        quiet = run(*arguments, cwd=tmp_path)
        assert quiet.returncode == 0, (arguments, quiet.stderr)
        assert quiet.stderr == "", arguments
        assert quiet.stdout.startswith("order o"), arguments
    job = tmp_path / "job.json"
    job.write_text((Path(RUN).parent / "docs/examples/jobs/custom-job.json").read_text())
    for arguments in (["jobs", "submit", "-q", "--db", "a.db", str(job)],
                      ["jobs", "-q", "submit", str(job), "--db", "a.db"]):
        submitted = run(*arguments, cwd=tmp_path)
        assert submitted.returncode == 0, (arguments, submitted.stderr)
        assert submitted.stderr == "", arguments
        assert submitted.stdout.startswith(f"submitted {job} as "), arguments
