"""Import benchmark: a 1,000,000-line export imported into a new log, speed and memory.

Run it from the repository root::

    python bench/import_bench.py                  # 1,000,000 lines
    python bench/import_bench.py --events 100000  # a smaller file, a smoke run

Why: ``import FILE`` streams its file (a first pass checks every line and keeps none, a
second appends it a batch at a time inside one transaction), so its memory must not grow
with the file: the issue's bound is RSS growth under 150 MB for 1,000,000 lines. Holding
the file's lines and records in memory, as import did before, needed gigabytes.

The file: the history benchmark's log (``bench/history_bench.py``: the showcase's runs
cloned until the log holds ``--events`` records: orders, jobs, pipeline results with
nested collector and loader reports, master pipeline stages, ETL manifests), cached,
then exported with ``python run.py export`` as a user would. The import runs in a
fresh child process, through the same library call the command line makes
(``sagalog.store.import_file``), timing each pass; its memory is measured, not
asserted: resident size before the call (modules and message types loaded) and the
peak during it (Linux ``VmHWM``, which belongs to the process's own address space, so
the benchmark's size does not leak into it), and the growth between them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _common import print_machine, scratch
from history_bench import RUN_PY, cached_log, child_env, load

ROOT = Path(__file__).resolve().parent.parent
GROWTH_LIMIT_MB = 150.0
MB = 1024 * 1024


def status_kb(field: str) -> int:
    """A size from /proc/self/status (``VmRSS``, ``VmHWM``), in KB."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    msg = f"/proc/self/status has no {field}"
    raise RuntimeError(msg)


def child(file: str, db: str) -> int:
    """In a fresh process: import ``file`` into ``db``; print the figures as JSON."""
    from sagalog.cli import load_message_types
    from sagalog.events import registry
    from sagalog.store import import_file, open_store

    load_message_types()
    before_kb = status_kb("VmRSS")
    marks: dict[str, float] = {}

    def progress(stage: str, _count: int, _total: int | None) -> None:
        marks.setdefault(stage, time.perf_counter())

    started = time.perf_counter()
    result = import_file(db, file, registry, progress=progress)
    ended = time.perf_counter()
    peak_kb = status_kb("VmHWM")
    with open_store(db, read_only=True) as store:
        last = store.last_position()
    print(json.dumps({
        "added": result.added, "lines": result.lines, "last_position": last,
        "seconds": ended - started, "checking": marks.get("importing", ended) - started,
        "importing": ended - marks.get("importing", ended),
        "before_kb": before_kb, "peak_kb": peak_kb,
    }))
    return 0


def export(log: Path, file: Path) -> float:
    """``python run.py export`` of the log into ``file``; the seconds it took."""
    started = time.perf_counter()
    with file.open("wb") as out:
        subprocess.run([sys.executable, str(RUN_PY), "-q", "export", "--db", str(log)],
                       stdout=out, check=True, cwd=ROOT, env=child_env())
    return time.perf_counter() - started


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="lines in the export (default %(default)s)")
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir())
                                                   / "sagalog-bench-cache"),
                        help="where the history benchmark keeps its logs (default %(default)s)")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "DB"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.child:
        return child(*args.child)
    if args.events < 1:
        print("--events must be at least 1", file=sys.stderr)
        return 2
    print_machine("sagalog import benchmark", ["bench/import_bench.py", *argv],
                  args.cache_dir, ["pydantic", "aiosqlite", "pykka"])
    print(f"  load      {load()}")
    log = cached_log(args.events, Path(args.cache_dir), rebuild=False)
    with scratch(args.cache_dir) as directory:
        file = directory / "export.jsonl"
        seconds = export(log, file)
        size = file.stat().st_size
        print(f"  export    {args.events:,} lines, {size / MB:,.0f} MB, written in {seconds:.1f} s")
        answer = subprocess.run(
            [sys.executable, __file__, "--child", str(file), str(directory / "imported.db")],
            capture_output=True, text=True, check=True, cwd=ROOT, env=child_env())
        figures = json.loads(answer.stdout)
    if (figures["added"], figures["last_position"]) != (args.events, args.events):
        print(f"  FAILED: {figures['added']:,} records imported of {args.events:,}")
        return 1
    growth = (figures["peak_kb"] - figures["before_kb"]) / 1024
    total = figures["seconds"]
    print(f"  import    {figures['lines']:,} lines in {total:.1f} s: "
          f"{figures['lines'] / total:,.0f} events/s")
    print(f"    check   {figures['checking']:.1f} s ({figures['lines'] / figures['checking']:,.0f}"
          f" lines/s), nothing kept")
    print(f"    append  {figures['importing']:.1f} s "
          f"({figures['lines'] / figures['importing']:,.0f} lines/s), one transaction")
    verdict = "ok" if growth < GROWTH_LIMIT_MB else "OVER"
    print(f"  memory    RSS {figures['before_kb'] / 1024:,.0f} MB before, peak "
          f"{figures['peak_kb'] / 1024:,.0f} MB: grew {growth:,.0f} MB "
          f"(bound {GROWTH_LIMIT_MB:.0f} MB: {verdict})")
    print(f"  load      {load()} (after)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main(sys.argv[1:]))
