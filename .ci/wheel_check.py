"""Every command of the installed ``sagalog``, run from a directory outside the tree.

CI builds the wheel, installs it into a fresh virtual environment, and runs this script with
that environment's Python from an empty directory: the main job first, then every command
of the parser on the log the main job made, checking each exit code. A command the parser
has and this table lacks fails the check, so a new command cannot skip it.

Usage: python wheel_check.py   (in an empty directory; the ``sagalog`` script on PATH)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sagalog.cli import parser


def sagalog(*arguments: str, expect: int = 0, stdin: str | None = None) -> str:
    """Run the installed script; fail unless it exits ``expect``. Returns stdout."""
    command = [shutil.which("sagalog") or "sagalog", *arguments]
    began = time.monotonic()
    result = subprocess.run(command, input=stdin, capture_output=True, text=True,
                            timeout=600, check=False)
    took = time.monotonic() - began
    shown = " ".join(arguments) or "(the main job)"
    print(f"  exit {result.returncode} in {took:5.1f} s: sagalog {shown}", flush=True)
    if result.returncode != expect:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
        msg = f"sagalog {shown} exited {result.returncode}, expected {expect}"
        raise SystemExit(msg)
    return result.stdout


def require(condition: bool, what: str) -> None:  # noqa: FBT001 - reads as a check
    """Fail the check, naming ``what``, unless ``condition`` holds."""
    if not condition:
        msg = f"wheel check failed: {what}"
        raise SystemExit(msg)


def commands() -> set[str]:
    """Every subcommand the installed parser has."""
    top = parser()
    found: set[str] = set()
    for action in top._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def log_of_main_job(before: set[str]) -> Path:
    """The log the main job made: the one ``*.db`` (in a folder it names, or here)."""
    made = [Path(name) for name in {path.name for path in Path().iterdir()} - before]
    logs = [path for path in made if path.suffix == ".db"]
    logs += [inner for path in made if path.is_dir() for inner in path.glob("*.db")]
    if len(logs) != 1:
        msg = f"the main job should make one log, found {logs} among {made}"
        raise SystemExit(msg)
    return logs[0]


def main() -> None:
    """Run the main job, then every command on its log."""
    print(f"wheel check in {Path.cwd()} with {sys.executable}", flush=True)
    sagalog("--help")
    before = {path.name for path in Path().iterdir()}
    sagalog()
    db = str(log_of_main_job(before))
    listing = sagalog("list", "--db", db)
    run_id = next(line.split()[0] for line in listing.splitlines()[1:]
                  if " failed " in line)
    export = sagalog("export", "--db", db)
    lines = export.splitlines()
    require(all(json.loads(line)["position"] for line in lines), "export: JSON Lines")
    Path("log.jsonl").write_text(export, encoding="utf-8")
    jobs = Path(sagalog_examples(), "jobs")
    recipes: dict[str, list[tuple[str, ...]]] = {
        "list": [("list", "--db", db, "--limit", "0")],
        "timeline": [("timeline", run_id, "--db", db), ("timeline", run_id, "--db", db,
                                                          "--format", "mermaid")],
        "explain": [("explain", run_id, "--db", db)],
        "show": [("show", "1", "--db", db)],
        "export": [("export", "--db", db, "--correlation", run_id)],
        "verify": [("verify", "--db", db)],
        "tail": [("tail", "--from", "1", "--count", "5", "--db", db)],
        "report": [("report", run_id, "--html", "report.html", "--db", db)],
        "bundle": [("bundle", run_id, "-o", "bundle.db", "--db", db)],
        "what-if": [("what-if", "--db", db), ("what-if", "--db", "bundle.db")],
        "at": [("at", "10", "--db", db)],
        "graph": [("graph", "order")],
        "import": [("import", "log.jsonl", "--db", "copy.db"), ("verify", "--db", "copy.db")],
        "order": [("order", "--count", "3", "--db", db)],
        "resume": [("resume", "--db", db)],
        "jobs": [("jobs", "submit", "--config", str(jobs / "config.json"),
                  str(jobs / "custom-job.json"), "--db", db)],
        "worker": [("worker", "--until-idle", "--db", db)],
        "data-pipeline": [("data-pipeline", "--config",
                           str(Path(sagalog_examples(), "pipeline", "config.json")),
                           "--db", "pipeline.db")],
        "master-pipeline": [("master-pipeline", "--resume", "--db", db)],
        "etl": [("etl", "--manifest", "--db", db)],
    }
    missing = commands() - set(recipes)
    if missing:
        msg = f"the wheel check has no recipe for {sorted(missing)}: add one"
        raise SystemExit(msg)
    for name in sorted(recipes):
        for arguments in recipes[name]:
            sagalog(*arguments)
    html = Path("report.html").read_text(encoding="utf-8")
    require(run_id in html, "the report names its run")
    sagalog("verify", "--db", db)
    print(f"wheel check passed: {len(recipes)} commands", flush=True)


def sagalog_examples() -> Path:
    """Where the installed package keeps the examples the main job runs (a scratch copy)."""
    import sagalog

    copy = Path("examples")
    if not copy.exists():
        shutil.copytree(Path(sagalog.__file__).parent / "examples", copy)
    return copy.resolve()


if __name__ == "__main__":
    main()
