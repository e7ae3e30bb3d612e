"""sagalog's command line: ``python run.py`` (or the ``sagalog`` script, ``python -m sagalog``).

With no subcommand it runs the main job, the showcase: every built-in workflow once on
the embedded SQLite log ``./sagalog-showcase/sagalog.db``, everything it makes in that
folder, then a summary and a check of the log. The subcommands run the workflows, read a
log back (list, timeline, explain, what-if...), export and import it, and verify it. What
each says in ``--help`` is in :data:`HELP`.

Each command imports the workflows and tools it uses when it runs, not at the top: a
read-only command is over in a fraction of a second, and importing every workflow, its
actors and its message models cost 0.15-0.2 s of it (``list`` on a 1,000,000-event log:
0.55 s before, 0.40 s after; ``bench/history_bench.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import shlex
import shutil
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TextIO

from sagalog import __version__
from sagalog.events import SagalogError, printable, printable_json
from sagalog.sagas.kinds import KINDS, SAGA_NAMES

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sagalog.actors import Role, Runtime
    from sagalog.sagas.history import Difference, RunSummary
    from sagalog.sagas.orders import FailurePlan

DEFAULT_DB = "sagalog.db"
"""The log every command reads and writes unless ``--db`` says otherwise."""
SHOWCASE_DIR = "sagalog-showcase"
"""Where the showcase (no command) puts its log and everything else it makes."""


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, label: str, total: int | None, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.shown = stream.isatty()
        self.count = 0
        self._last = 0.0

    def update(self, count: int) -> None:
        """Show ``count`` done (redrawn at most 10 times a second)."""
        self.count = count
        now = time.monotonic()
        if not self.shown or (now - self._last < 0.1 and count != self.total):
            return
        self._last = now
        if self.total:
            filled = int(30 * count / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            line = f"\r{self.label} [{bar}] {count:,}/{self.total:,}"
        else:
            line = f"\r{self.label} {count:,}"
        print(line, end="", file=self.stream, flush=True)

    def clear(self) -> None:
        """Erase the bar, so a line printed now stands alone (the next update redraws it)."""
        if self.shown:
            print("\r\033[K", end="", file=self.stream, flush=True)
            self._last = 0.0

    def done(self) -> None:
        """End the bar's line."""
        if self.shown:
            print(file=self.stream, flush=True)


class Console:
    """One-line notes on stderr beside a command's output (``-q`` silences them)."""

    def __init__(self) -> None:
        self.quiet = False

    def note(self, line: str) -> None:
        """Print ``sagalog: LINE`` on stderr, unless quiet."""
        if not self.quiet:
            print(f"sagalog: {printable(line)}", file=sys.stderr, flush=True)


CONSOLE = Console()
"""The command line's notes; :func:`main` sets ``quiet`` from ``-q``."""

WRITER_ROLE: Role = "auto"
"""The role of every writing command's runtime: the log's worker if none runs, else its
client. The command line's worker runs every built-in workflow, so whatever a command
appends, the worker handles it as the command would have."""


def say_role(runtime: Runtime, doing: str) -> None:
    """Say, in one line, whether this command runs the handlers or is a worker's client."""
    if runtime.role == "client":
        pid = runtime.refusal.pid if runtime.refusal is not None else None
        holder = f"a worker (PID {pid})" if pid is not None else "a worker"
        CONSOLE.note(f"{holder} holds the log: {doing} as a client")
    else:
        CONSOLE.note(f"no worker holds the log: {doing}, running the handlers in this "
                     f"process (PID {os.getpid()})")


def require_log(db: str) -> None:
    """Refuse, in one line, a command that needs an existing log when there is none."""
    if not Path(db).exists():
        msg = f"{db}: no such log"
        raise SagalogError(msg)


def ledger_path(db: str) -> str:
    """Where the demo adapters record their effects: beside the log."""
    from sagalog.sagas.orders import demo_ledger_path

    return demo_ledger_path(db)


def failure_plan(arguments: argparse.Namespace) -> FailurePlan:
    """The failure injection the flags ask for."""
    from sagalog.sagas.orders import SERVICES, FailurePlan

    for service in arguments.fail:
        if service not in SERVICES:
            msg = f"--fail takes one of {', '.join(SERVICES)}, not {service!r}"
            raise SagalogError(msg)
    if not 0.0 <= arguments.fail_rate <= 1.0:
        msg = f"--fail-rate must be between 0 and 1, not {arguments.fail_rate}"
        raise SagalogError(msg)
    return FailurePlan(frozenset(arguments.fail), arguments.fail_rate, arguments.seed,
                       arguments.product_missing)


MAX_ORDERS = 1_000_000
"""The most orders one ``order`` command places: about 14 records each, so 14 million
records; more is a mistyped count (``--count 100000000`` built 100 million ids before
placing the first), refused before the log is opened."""


def run_orders(db: str, count: int, concurrency: int, plan: FailurePlan) -> int:
    """Place ``count`` orders, ``concurrency`` at a time; print each outcome or a summary."""
    if count < 1 or concurrency < 1:
        msg = "--count and --concurrency must be at least 1"
        raise SagalogError(msg)
    if count > MAX_ORDERS:
        msg = (f"--count {count:,} is more orders than one command places ({MAX_ORDERS:,}); "
               "run it several times")
        raise SagalogError(msg)
    from sagalog.actors import Ledger, Runtime
    from sagalog.sagas.orders import add_order_workflow, place_order, wait_for_terminals

    with Ledger(ledger_path(db)) as ledger, Runtime(db, role=WRITER_ROLE,
                                                    owner="sagalog order") as runtime:
        say_role(runtime, "placing orders")
        add_order_workflow(runtime, ledger, plan)
        start = runtime.store.last_position()
        batch = f"o{start + 1}"
        progress = Progress("orders", count)
        outcomes: dict[str, str] = {}
        began = time.monotonic()
        for first in range(1, count + 1, concurrency):  # the ids of one chunk at a time
            chunk = [f"{batch}-{n}" for n in range(first, min(first + concurrency, count + 1))]
            for order_id in chunk:
                place_order(runtime, order_id, plan=plan)  # the plan's decision goes too
            outcomes.update(wait_for_terminals(
                runtime, set(chunk), start + 1,
                on_end=lambda _o, _k: progress.update(len(outcomes) + 1),
            ))
            progress.update(len(outcomes))
        progress.done()
        elapsed = time.monotonic() - began
    report(outcomes, elapsed)
    return 0


def resume(db: str, plan: FailurePlan) -> int:
    """Finish every run of every workflow in an existing log; exit 0 when none is left.

    All the workflows' actors run in one runtime, so they all make progress while this
    waits for each workflow's unfinished runs in turn; beside a running worker, this is
    its client and only waits. ``plan`` applies to the orders whose start recorded no
    failure plan (logs of sagalog 0.1), and only where this process runs the handlers.
    """
    require_log(db)
    from sagalog.actors import Ledger, Runtime
    from sagalog.sagas.etl import add_etl_workflow, resume_etl
    from sagalog.sagas.jobs import add_jobs_workflow, resume_jobs
    from sagalog.sagas.master import resume_master
    from sagalog.sagas.orders import add_order_workflow, unfinished_orders, wait_for_terminals
    from sagalog.sagas.pipeline import add_pipeline_workflow, resume_pipelines

    with Ledger(ledger_path(db)) as ledger, Runtime(db, role=WRITER_ROLE,
                                                    owner="sagalog resume") as runtime:
        say_role(runtime, "resuming the log's unfinished runs")
        add_order_workflow(runtime, ledger, plan)
        add_jobs_workflow(runtime)
        add_pipeline_workflow(runtime)
        add_etl_workflow(runtime)
        pending = unfinished_orders(runtime)
        print(f"{len(pending)} orders in flight")
        progress = Progress("resuming", len(pending))
        done: list[str] = []

        def ended(order_id: str, _kind: str) -> None:
            done.append(order_id)
            progress.update(len(done))

        outcomes = wait_for_terminals(runtime, pending, 1, on_end=ended) if pending else {}
        progress.done()
        left_jobs = resume_jobs(runtime)
        pipelines = resume_pipelines(runtime)
        masters = resume_master(runtime)  # registers the master workflow from the log
        sources = resume_etl(runtime)
    if outcomes:
        report(outcomes, None)
    print(f"finished: {len(pipelines)} data pipeline runs, {len(masters)} master pipeline "
          f"runs, {len(sources)} ETL sources"
          + (f"; {len(left_jobs)} jobs still unfinished" if left_jobs else ""))
    return 0


def report(outcomes: dict[str, str], elapsed: float | None) -> None:
    """Each outcome for a few orders; a table of counts for many."""
    if len(outcomes) == 1:
        ((order_id, kind),) = outcomes.items()
        print(f"order {order_id}: {kind}")
        return
    counts = Counter(outcomes.values())
    print(f"{'outcome':<22}{'orders':>8}")
    for kind, number in sorted(counts.items()):
        print(f"{kind:<22}{number:>8}")
    print(f"{'total':<22}{len(outcomes):>8}")
    if elapsed:
        print(f"{len(outcomes) / elapsed:,.0f} orders/s")


def export(db: str, arguments: argparse.Namespace) -> int:
    """Write the log (or the filtered part) to stdout as JSON Lines."""
    require_log(db)

    def keep(record: dict[str, object]) -> bool:
        position = int(record["position"])  # type: ignore[call-overload]
        return (
            (arguments.correlation is None or record["correlation_id"] == arguments.correlation)
            and (arguments.stream is None or record["stream_id"] == arguments.stream)
            and (arguments.to is None or position <= arguments.to)
        )

    from sagalog.sagas.kinds import run_status_hooks
    from sagalog.store import export_lines, open_store

    filtered = (arguments.correlation, arguments.stream, arguments.to) != (None, None, None)
    with open_store(db, read_only=True, run_status=run_status_hooks()) as store:
        total = store.last_position()
        progress = Progress("exporting", total)
        out = sys.stdout
        for line in export_lines(store, keep=keep if filtered else None,
                                 from_position=arguments.from_position,
                                 progress=progress.update):
            out.write(f"{line}\n")
        progress.done()
    return 0


def import_file(db: str, path: str) -> int:
    """Append a JSON Lines file to the log, all or nothing, reading it as it goes."""
    from sagalog.events import registry
    from sagalog.store import import_file as import_json_lines

    load_message_types()
    bars: list[Progress] = []

    def progress(stage: str, count: int, total: int | None) -> None:
        if not bars or bars[-1].label != stage:
            if bars:
                bars[-1].done()
            bars.append(Progress(stage, total))
        bars[-1].update(count)

    try:
        result = import_json_lines(db, path, registry, progress=progress)
    finally:
        if bars:
            bars[-1].done()
    print(f"imported {result.added} new records of {result.lines} lines from {printable(path)}")
    if result.checkpoints:
        print(f"moved {result.checkpoints} checkpoints: the log's workers resume where the "
              "exported log's were")
    if result.checkpoints_left:
        print(f"checkpoints not carried: {printable(result.checkpoints_left)}; a worker "
              "here handles the imported commands again")
    return 0


def verify(db: str, format_: str = "text") -> int:
    """Check the hash chain and the database; 0 when intact, 1 naming the first bad position."""
    require_log(db)
    from sagalog.sagas.kinds import run_status_hooks
    from sagalog.store import open_store

    with open_store(db, read_only=True, run_status=run_status_hooks()) as store:
        progress = Progress("verifying", store.last_position())
        report_ = store.verify(progress.update)
    progress.done()
    print(printable_json(report_.json()) if format_ == "json" else printable(report_))
    return 0 if report_.ok else 1


def submit_jobs(db: str, config: str | None, files: Sequence[str],
                max_payload_bytes: int | None = None) -> int:
    """Put each file's job message on the pending queue (the worker validates it)."""
    from sagalog.sagas.jobs import load_jobs_config, submit_job_files

    settings = load_jobs_config(config, db)
    if max_payload_bytes is not None:
        if max_payload_bytes < 1:
            msg = f"--max-payload-bytes must be at least 1, not {max_payload_bytes}"
            raise SagalogError(msg)
        settings = settings.model_copy(update={"max_payload_bytes": max_payload_bytes})
    ids = submit_job_files(db, files, settings)
    for file, correlation in zip(files, ids, strict=True):
        print(f"submitted {printable(file)} as {printable(correlation)}")
    return 0


def jobs_or_worker(db: str, arguments: argparse.Namespace) -> int:
    """``jobs submit`` or ``worker``."""
    if arguments.command == "jobs":
        return submit_jobs(db, arguments.config, arguments.files, arguments.max_payload_bytes)
    return worker(db, arguments.until_idle)


def worker(db: str, until_idle: bool, *, share: bool = False) -> int:  # noqa: FBT001 - the flag
    """Run the workflows until SIGINT/SIGTERM (or idle); print how the jobs ended.

    The ``worker`` command must be the log's worker (a second one is refused, exit 2).
    With ``share`` (the showcase) and a worker already on the log, this waits as its
    client until that worker has no work left.
    """
    from sagalog.sagas.jobs import jobs_summary
    from sagalog.sagas.worker import run_worker, stop_on_signals
    from sagalog.store import open_store

    stop = threading.Event()

    def ready(runtime: Runtime) -> None:
        if runtime.role == "worker":
            print(f"worker running on {db} (PID {os.getpid()})", flush=True)
        else:
            say_role(runtime, "waiting for it to finish the work")

    with stop_on_signals(stop):
        idle = run_worker(db, until_idle, stop, on_ready=ready,
                          role=WRITER_ROLE if share else "worker")
    with open_store(db) as store:
        counts = jobs_summary(store)
    print(f"worker stopped ({'no work left' if idle else 'on request'}): "
          + ", ".join(f"{number} {kind}" for kind, number in counts.items()))
    return 0


def data_pipeline(db: str, config: str) -> int:
    """Run the data pipeline of ``config`` (or finish its interrupted run); 1 if it failed."""
    from sagalog.actors import Runtime
    from sagalog.sagas.pipeline import (
        add_pipeline_workflow,
        load_pipeline_config,
        run_data_pipeline,
    )

    load_pipeline_config(config)  # a bad file is refused before the log is opened
    with Runtime(db, role=WRITER_ROLE, owner="sagalog data-pipeline") as runtime:
        say_role(runtime, "running the data pipeline")
        add_pipeline_workflow(runtime)
        result = run_data_pipeline(runtime, config)
    collector, loader = result["collector_result"], result["loader_result"]
    verb = "resumed and finished" if result["resumed"] else "finished"
    print(f"run {result['run_id']} {verb}: {result['overall_status']}")
    for phase, part in (("collector", collector), ("loader", loader)):
        if isinstance(part, dict):
            rollback = part.get("rollback_status")
            after = f", rollback {rollback}" if rollback else ""
            print(f"  {phase:<10} {part['status']}{after}: {part['successful']} of "
                  f"{part['total']} ok, {part['rows']} rows")
        else:
            print(f"  {phase:<10} did not run")
    print(f"  reason     {result['reason']}")
    print(f"  timestamp  {result['timestamp']}")
    if "report_path" in result:
        print(f"  report     {result['report_path']}")
    return 1 if result["overall_status"] == "failed" else 0
def master_pipeline(db: str, arguments: argparse.Namespace) -> int:
    """Run the master pipeline once (or finish unfinished runs); 0 if completed, 1 if failed."""
    from sagalog.actors import Runtime
    from sagalog.sagas.master import resume_master, run_master_pipeline, summarise_run

    if arguments.resume:
        require_log(db)
        with Runtime(db, role=WRITER_ROLE, owner="sagalog master-pipeline") as runtime:
            say_role(runtime, "finishing the master pipeline runs")
            outcomes = resume_master(runtime)
            summaries = [summarise_run(runtime.store, run) for run in sorted(outcomes)]
        if not summaries:
            print("no master pipeline run in flight")
    else:
        if arguments.config is None:
            msg = "master-pipeline needs --config FILE (or --resume)"
            raise SagalogError(msg)
        progress = Progress("records", None)
        seen: list[object] = []

        def tick(record: object) -> None:
            seen.append(record)
            progress.update(len(seen))

        with Runtime(db, role=WRITER_ROLE, owner="sagalog master-pipeline") as runtime:
            say_role(runtime, "running the master pipeline")
            summaries = [run_master_pipeline(runtime, arguments.config, arguments.maintenance,
                                             on_record=tick)]
        progress.done()
    for summary in summaries:
        print("\n".join(map(printable, summary.lines())))
    return 0 if all(summary.status == "completed" for summary in summaries) else 1
def etl(db: str, arguments: argparse.Namespace) -> int:
    """Run the ETL sources of a config (or finish interrupted runs); one line per source.

    Exit 0 when no source failed, 1 when one failed or was quarantined.
    """
    from sagalog.actors import Runtime
    from sagalog.actors.etl_server import serve_directory
    from sagalog.sagas.etl import add_etl_workflow, manifest_lines, resume_etl, run_etl
    from sagalog.store import open_store

    if arguments.manifest:
        require_log(db)
        with open_store(db, read_only=True) as store:
            print("\n".join(map(printable, manifest_lines(store))) or "the manifest is empty")
        return 0
    if arguments.config is None and not arguments.resume:
        msg = "etl needs --config FILE (or --resume, or --manifest)"
        raise SagalogError(msg)
    with contextlib.ExitStack() as stack:
        base_url = None
        if arguments.serve is not None:
            base_url = stack.enter_context(serve_directory(arguments.serve)).base_url
        runtime = stack.enter_context(Runtime(db, role=WRITER_ROLE, owner="sagalog etl"))
        say_role(runtime, "running the ETL sources")
        add_etl_workflow(runtime)
        show = lambda outcome: print(printable(outcome.line()), flush=True)  # noqa: E731
        if arguments.resume:
            outcomes = resume_etl(runtime, on_end=show)
            print(f"{len(outcomes)} interrupted sources finished")
            return 0 if all(outcome.ok for outcome in outcomes) else 1
        summary = run_etl(runtime, arguments.config, arguments.dry_run or None,
                          arguments.force_refresh or None, base_url=base_url, on_end=show)
    print(f"run {summary.run_id}: {sum(o.ok for o in summary.outcomes)} of "
          f"{len(summary.outcomes)} sources ok")
    return 0 if summary.ok else 1


def main_job(db: str | None) -> int:
    """The showcase: every built-in workflow once, then a summary and a check of the log.

    Orders with injected failures, routed jobs (one of them invalid, so rejected), the
    two-phase pipeline twice (the second with a broken source, so the collector fails,
    rolls back and the loader still runs), the master pipeline, and an ETL run against a
    local HTTP server started here. Everything it makes goes in one folder, named first:
    ``./sagalog-showcase/`` with the log ``sagalog.db`` in it, or, with ``--db PATH``,
    beside PATH (``PATH.ledger``, ``PATH.showcase/``...). A folder it cannot write is an
    ``OSError`` naming the path, which :func:`main` prints as one line.
    """
    from sagalog.sagas.history import list_runs
    from sagalog.sagas.kinds import KINDS
    from sagalog.sagas.orders import FailurePlan
    from sagalog.sagas.showcase import prepare_showcase

    if db is None:
        db = str(Path(SHOWCASE_DIR, DEFAULT_DB))
        print(f"sagalog: the showcase writes everything under ./{SHOWCASE_DIR}/ "
              f"(its log: {db})", flush=True)
    else:
        folder = Path(db).parent
        print(f"sagalog: the showcase writes everything beside its log {db}, in "
              f"{'./' if folder == Path() else f'{folder}/'} ({Path(db).name} and "
              f"{Path(db).name}.*)", flush=True)
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    showcase = prepare_showcase(db)
    codes = []
    _heading("orders: 12 orders, some services failing, what succeeded undone")
    codes.append(run_orders(db, 12, 6, FailurePlan(rate=0.15, seed=7)))
    _heading("job routing: submit three job files (one invalid), run the worker")
    codes.append(submit_jobs(db, str(showcase.jobs_config),
                             [str(path) for path in showcase.job_files]))
    codes.append(worker(db, until_idle=True, share=True))
    _heading("two-phase data pipeline: a good run, then a broken source rolled back")
    codes.append(data_pipeline(db, str(showcase.pipeline_config)))
    showcase.break_pipeline_source()
    codes.append(data_pipeline(db, str(showcase.pipeline_config)))
    _heading("staged master pipeline: six stages, each retried on failure")
    codes.append(master_pipeline(db, argparse.Namespace(
        resume=False, config=str(showcase.master_config), maintenance=False)))
    _heading("ETL sources from a local HTTP server, twice (the second finds them fresh)")
    etl_flags = argparse.Namespace(manifest=False, resume=False, config=str(showcase.etl_config),
                                   serve=str(showcase.etl_site), dry_run=False,
                                   force_refresh=False)
    codes.append(etl(db, etl_flags))
    codes.append(etl(db, etl_flags))  # the second run finds every source up to date
    _heading("the log")
    codes.append(verify(db))
    runs = list_runs(db, KINDS)
    counts = Counter((run.kind, run.status) for run in runs)
    print(f"{'kind':<18}{'status':<15}{'runs':>6}")
    for (kind, status), number in sorted(counts.items()):
        print(f"{kind:<18}{status:<15}{number:>6}")
    failed = next((run.run_id for run in runs if run.status == "failed"), runs[0].run_id)
    program, log = _program(), shlex.quote(db)
    print(f"explore it: {program} list --db {log}\n"
          f"            {program} timeline {shlex.quote(failed)} --db {log}\n"
          f"            {program} explain {shlex.quote(failed)} --db {log}\n"
          f"            {program} show 1 --db {log}\n"
          f"            {program} export --db {log} | head")
    return 0 if not any(codes) else 1


def _program() -> str:
    """How this program was started, to print commands that work when pasted."""
    started = Path(sys.argv[0])
    if started.name == "__main__.py":
        return "python -m sagalog"
    if started.suffix == ".py":
        return f"python {shlex.quote(sys.argv[0])}"
    return "sagalog"


def _heading(title: str) -> None:
    print(f"\n== {title}", flush=True)


def load_message_types() -> None:
    """Register every built-in message type, so that any record of the log decodes.

    A message class registers itself when its module is imported. The workflow commands
    import their own; a command that reads records of any workflow (``timeline``,
    ``show``, ``tail``, ``import``...) calls this instead of importing every workflow.
    """
    import sagalog.events.etl
    import sagalog.events.jobs
    import sagalog.events.master
    import sagalog.events.orders
    import sagalog.events.pipeline
    import sagalog.events.runtime
    import sagalog.events.sagas  # noqa: F401 - imported for the registrations


def history(db: str, arguments: argparse.Namespace) -> int:
    """``list``, ``timeline``, ``explain``, ``show``, ``report``: read the log, never write it."""
    require_log(db)
    command = arguments.command
    from sagalog.sagas.kinds import run_status_hooks
    from sagalog.store import open_store

    if command == "list":  # the runs table only: no workflow, no message type
        from sagalog.events import UnknownMessageTypeError
        from sagalog.sagas.history import newest_runs, render_runs, runs_json

        since = _parse_time(arguments.since) if arguments.since else None
        with open_store(db, read_only=True, run_status=run_status_hooks()) as store:

            def newest() -> tuple[list[RunSummary], int]:
                return newest_runs(store, KINDS, max(arguments.limit, 0),
                                   status=arguments.status, kind=arguments.kind, since=since)

            try:
                runs, total = newest()
            except UnknownMessageTypeError:
                # A log an older sagalog wrote, opened read-only: the store gives its runs
                # their status from their records (saga decisions, refusals), which need
                # the message types; on this path only are they loaded, and read again.
                load_message_types()
                runs, total = newest()
        print(printable_json(runs_json(runs, total)) if arguments.format == "json"
              else printable(render_runs(runs, arguments.limit, total=total), multiline=True))
        return 0
    from sagalog.sagas.history import (
        actor_deaths,
        explanation,
        read_timeline,
        render_html,
        show,
        show_json,
        write_report,
    )

    load_message_types()
    with open_store(db, read_only=True, run_status=run_status_hooks()) as store:
        if command == "show":
            print(show_json(store, arguments.position) if arguments.format == "json"
                  else show(store, arguments.position))
            return 0
        timeline = read_timeline(store, arguments.run_id)
        deaths = actor_deaths(store, timeline) if command == "report" else []
    if command == "report":
        from sagalog.sagas.catalog import definition_for  # the workflows: only these two need them

        definition = definition_for(timeline.entries[0].record.type)
        print(printable(write_report(arguments.html, render_html(timeline, definition, deaths))))
    elif command == "explain":
        from sagalog.sagas.catalog import definition_for

        explained = explanation(timeline, definition_for(timeline.entries[0].record.type))
        print(explained.json() if arguments.format == "json" else explained.text())
    elif arguments.format == "json":
        print(timeline.json())
    elif arguments.format == "mermaid":
        print(timeline.mermaid())
    else:
        print(timeline.text())
    return 0


def bundle_run(db: str, arguments: argparse.Namespace) -> int:
    """``bundle``: one run's records into a new log; the log itself is only read."""
    from sagalog.sagas.history import bundle
    from sagalog.sagas.kinds import run_status_hooks

    load_message_types()
    print(printable(bundle(db, arguments.run_id, arguments.output, force=arguments.force,
                           run_status=run_status_hooks()).line()))
    return 0


def follow(db: str, arguments: argparse.Namespace) -> int:
    """``tail``: a line per record as the log grows, until SIGINT/SIGTERM or a limit."""
    if arguments.count is not None and arguments.count < 1:
        msg = "--count must be at least 1"
        raise SagalogError(msg)
    from sagalog.sagas.history import POLL_S, TailOptions, check_types, fit_width, tail
    from sagalog.sagas.kinds import run_status_hooks
    from sagalog.sagas.worker import stop_on_signals
    from sagalog.store import open_store

    load_message_types()  # --types is checked against them; every record is decoded
    types = check_types(arguments.types.split(",")) if arguments.types else None
    options = TailOptions(arguments.from_position, types, arguments.count, arguments.idle_exit)
    out = sys.stdout
    terminal = out.isatty()  # a pipe gets every line whole

    def write(line: str) -> None:
        if terminal:  # the width is asked each line: the window may be resized meanwhile
            line = fit_width(line, shutil.get_terminal_size().columns)
        out.write(line + "\n")
        out.flush()  # each line as it comes, also into a pipe

    def started(position: int) -> None:
        print(f"sagalog: following {db} from position {position}", file=sys.stderr,
              flush=True)

    stop = threading.Event()
    with stop_on_signals(stop), open_store(db, read_only=True, poll_interval=POLL_S,
                                           run_status=run_status_hooks()) as store:
        try:
            tail(store, write, options, stop, started)
        except BrokenPipeError:
            # The reader went away (| head): stop quietly; the exit's flush goes nowhere.
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    return 0


def _parse_time(text: str, flag: str = "--since") -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{flag} takes an ISO 8601 time such as 2026-11-22T10:00, not {text!r}"
        raise SagalogError(msg) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _safe_writer(format_: str, write: Callable[[str], object]) -> Callable[[str], object]:
    """``write``, given text with no raw control character (JSON stays JSON)."""
    if format_ == "json":
        return lambda text: write(printable_json(text))
    return lambda text: write(printable(text, multiline=True))


def check_what_if(db: str, arguments: argparse.Namespace) -> int:
    """Replay every saga's inputs through the current code; 1 if any decision would differ."""
    require_log(db)
    from sagalog.sagas.catalog import DEFINITIONS, RUN_STATUS_HOOKS, definition_of_run
    from sagalog.sagas.history import WhatIfPrinter, source_positions, what_if
    from sagalog.store import open_store

    with open_store(db, read_only=True, run_status=RUN_STATUS_HOOKS) as store:
        positions = source_positions(store)  # a bundle is replayed at its source positions
        out = WhatIfPrinter(arguments.format, _safe_writer(arguments.format, sys.stdout.write),
                            None if positions is None else positions.range)
        last = store.last_position()
        progress = Progress("what-if", last if positions is None else positions.source(last))

        def report(difference: Difference) -> None:
            progress.clear()
            out.difference(difference)

        result = what_if(store, DEFINITIONS, progress.update, configure=definition_of_run,
                         on_difference=report)
    progress.done()
    out.finish(result)
    return 0 if result.ok else 1


def state_of_sagas(db: str, arguments: argparse.Namespace) -> int:
    """``at POSITION`` or ``at --as-of TIME``: every saga as it stood then."""
    require_log(db)
    if (arguments.position is None) == (arguments.as_of is None):
        msg = "at takes a POSITION or --as-of TIME (exactly one of them)"
        raise SagalogError(msg)
    from sagalog.sagas.catalog import DEFINITIONS, RUN_STATUS_HOOKS, definition_of_run
    from sagalog.sagas.history import position_at, render_states, state_at, states_json
    from sagalog.store import open_store

    with open_store(db, read_only=True, run_status=RUN_STATUS_HOOKS) as store:
        position = (arguments.position if arguments.position is not None
                    else position_at(store, _parse_time(arguments.as_of, "--as-of")))
        progress = Progress("folding", position)
        rows = state_at(store, DEFINITIONS, position, progress.update,
                        configure=definition_of_run)
    progress.done()
    print(printable_json(states_json(rows, position)) if arguments.format == "json"
          else printable(render_states(rows, position), multiline=True))
    return 0


def graph(_db: str, arguments: argparse.Namespace) -> int:
    """A saga definition as a Mermaid flowchart; a warning per step nothing would undo."""
    from sagalog.sagas.catalog import DEFINITIONS
    from sagalog.sagas.history import UnknownSagaError, mermaid_flowchart

    definition = DEFINITIONS.get(arguments.saga)
    if definition is None:
        raise UnknownSagaError(arguments.saga, list(DEFINITIONS))
    text, warnings = mermaid_flowchart(definition)
    print(text, end="")
    for warning in warnings:
        print(f"sagalog: warning: {printable(warning)}", file=sys.stderr)
    return 0


class CommandHelp(NamedTuple):
    """What one command's ``--help`` says (the reference page is generated from it too)."""

    summary: str
    """One line, shown in the list of commands."""
    description: str
    """One paragraph: what the command does, what it reads and what it writes."""
    examples: tuple[str, ...]
    exits: dict[int, str]
    """Each exit code the command returns, and what it means then."""


BAD_INPUT = "bad input: a wrong flag or file, or no such log (one line on stderr)"
TIMED_OUT = "a run did not end within its time limit"
INTERRUPTED = "interrupted (Ctrl-C)"
READ_ONLY = ("The log is only read, so this is safe while a worker writes it, and works on an "
             "imported export or a bundle.")
SHARES = ("Beside a running worker it is that worker's client: it appends and waits, and the "
          "worker runs the handlers; without one it runs them itself. A line on stderr says "
          "which (unless -q).")

HELP: dict[str, CommandHelp] = {
    "": CommandHelp(
        "the showcase: every built-in workflow once",
        "sagalog runs sagas and pipelines as actors on an append-only SQLite log, and reads "
        "that log back: what ran, why each decision was made, what new code would decide. "
        "With no command it runs the showcase: every built-in workflow once (orders with "
        "injected failures, routed jobs, the two-phase data pipeline with a rollback, the "
        "staged master pipeline, an ETL run against a local HTTP server it starts), then a "
        "check of the log, a table of runs and the commands to explore them. The showcase "
        "writes everything under ./sagalog-showcase/ (the log is sagalog-showcase/sagalog.db); "
        "with --db PATH, everything goes beside PATH. Its first line names the folder. Every "
        "other command defaults to the log ./sagalog.db.",
        ("sagalog", "sagalog --db /tmp/demo/app.db",
         "sagalog list --db sagalog-showcase/sagalog.db", "sagalog COMMAND --help"),
        {0: "every workflow ran and the log is intact",
         1: "a workflow failed or the log failed its check",
         2: "bad input, or a file the showcase cannot write (a read-only folder, a full "
            "disk): one line on stderr naming the path",
         3: TIMED_OUT, 130: INTERRUPTED},
    ),
    "order": CommandHelp(
        "place orders and wait until each has ended",
        "Places orders through the order saga and waits until each has ended: the product is "
        "checked first (not found ends the order), then payment, inventory and shipping run "
        "in parallel, and if one fails the others that succeeded are undone (refund, restore, "
        "cancel). One order prints its outcome, several print a table of outcomes. --fail, "
        "--fail-rate and --product-missing inject failures; each choice is derived from the "
        "order id and --seed, so it repeats, and is recorded with the order, so whichever "
        "process runs the demo services applies it. The demo services record their effects "
        "in <db>.ledger beside the log. " + SHARES,
        ("sagalog order", "sagalog order --count 100 --fail-rate 0.1 --seed 1",
         "sagalog order --fail payment --db orders.db"),
        {0: "every order ended (a failed order is an outcome, not an error)", 2: BAD_INPUT,
         3: "an order did not end within its time limit", 130: INTERRUPTED},
    ),
    "resume": CommandHelp(
        "finish every unfinished run of an existing log",
        "Finishes every unfinished run of every workflow in an existing log, as after a "
        "crash: orders, jobs, data pipelines, master pipelines and ETL sources. Prints the "
        "outcome of the orders it finished and a count of the other runs. Each order fails "
        "as its failure flags, recorded when it was placed, say; the failure flags here "
        "apply only to orders that recorded none (logs of sagalog 0.1), and only when this "
        "process runs the handlers. " + SHARES,
        ("sagalog resume", "sagalog resume --db orders.db --fail-rate 0.1 --seed 1"),
        {0: "nothing is left unfinished", 2: BAD_INPUT, 3: TIMED_OUT, 130: INTERRUPTED},
    ),
    "export": CommandHelp(
        "the log as JSON Lines on stdout",
        "Writes the log to stdout as JSON Lines: one record a line, ended by \\n, with the "
        "keys position, stream_id, stream_version, event_id, type, version, recorded_at, "
        "correlation_id, causation_id and data, in that order. Text is written as UTF-8, so "
        "a line may hold characters that some tools take for line breaks (U+2028, U+0085): "
        "split it on \\n only. The data is written as stored, so a record this code cannot "
        "decode still exports. --correlation, --stream, --from and --to select records. "
        + READ_ONLY,
        ("sagalog export > backup.jsonl", "sagalog export --correlation o1-3",
         "sagalog export --from 100 --to 200 | head"),
        {0: "written (also when the reader closes the pipe early, as head does)",
         2: BAD_INPUT, 130: INTERRUPTED},
    ),
    "import": CommandHelp(
        "append a JSON Lines file, all or nothing",
        "Appends a JSON Lines file, as export writes it, to the log, all or nothing: every "
        "line is checked first (before the log is opened, so a refused file creates no log), "
        "then all are appended in one transaction. A bad line, an unknown type or a conflict "
        "with the log stops the import with the line's number, and nothing is appended. "
        "Stream ids, versions, event ids, correlation and causation ids are kept; positions "
        "and times are the target log's. Importing the same file again appends nothing. The "
        "file is read as it goes, so memory stays flat however long it is; a progress bar "
        "shows on a terminal.",
        ("sagalog import backup.jsonl --db restored.db",
         "sagalog export --db a.db --correlation o1-3 > run.jsonl",
         "sagalog import run.jsonl --db b.db"),
        {0: "every line is in the log (lines already there are not appended twice)",
         2: BAD_INPUT + "; nothing was imported", 130: INTERRUPTED + "; nothing was imported"},
    ),
    "verify": CommandHelp(
        "check the hash chain and SQLite's integrity",
        "Checks the log end to end: each record's hash against its content and the hash "
        "before it, that positions run without gaps, and SQLite's own quick_check. Prints ok "
        "and the number of records, or the first bad position and what is wrong there. "
        + READ_ONLY,
        ("sagalog verify", "sagalog verify --db backup.db --format json"),
        {0: "the log is intact", 1: "the log is damaged (the first bad position is named)",
         2: BAD_INPUT, 130: INTERRUPTED},
    ),
    "jobs": CommandHelp(
        "job routing: put jobs on the pending queue",
        "Job routing: job messages (JSON files) are put on the log's pending queue; the "
        "worker routes each to the data pipeline queue for its type and follows it up when "
        "the pipeline reports back (a custom job's status is written to the jobs database, "
        "a default job runs the search indexers). Run sagalog jobs submit --help for the "
        "command that puts jobs on the queue.",
        ("sagalog jobs submit job.json", "sagalog jobs submit --config jobs.json a.json b.json"),
        {0: "done", 2: BAD_INPUT},
    ),
    "jobs submit": CommandHelp(
        "put job messages on the pending queue",
        "Puts each file's job message on the log's pending queue, one record per file, and "
        "prints the id each job got. Nothing runs yet: the worker validates and routes them, "
        "and a job it cannot route is rejected there, with the reason recorded. --config "
        "names the jobs configuration (queue names, the jobs database, the indexers, the "
        "largest message accepted); without it the defaults apply. A file over the cap "
        "(max_payload_bytes, 1 MiB unless the configuration or --max-payload-bytes says "
        "otherwise) is refused before anything is written.",
        ("sagalog jobs submit docs/examples/jobs/custom-job.json",
         "sagalog jobs submit --config jobs.json a.json b.json --db app.db"),
        {0: "every file is on the queue", 2: BAD_INPUT, 130: INTERRUPTED},
    ),
    "worker": CommandHelp(
        "run the workflows until SIGINT/SIGTERM",
        "Runs every built-in workflow on the log (job routing, orders, the pipelines, ETL) "
        "until SIGINT or SIGTERM, or with --until-idle until no work is left, then prints "
        "how the jobs ended. One worker runs per log: a second is refused while the first "
        "holds <db>.worker.lock, naming its PID. The other writing commands (order, resume, "
        "data-pipeline, master-pipeline, etl) started while it runs become its clients: "
        "they append and wait, and the worker runs every handler once.",
        ("sagalog worker", "sagalog worker --until-idle --db app.db"),
        {0: "stopped, on request or with no work left", 2: BAD_INPUT + ", or another worker "
            "runs on this log"},
    ),
    "data-pipeline": CommandHelp(
        "collect, then load: the two-phase data pipeline",
        "Runs the two-phase data pipeline of a configuration: the collector checks each "
        "source file against its schema and writes the dataset, then the loader loads it "
        "into the target SQLite database. A collector failure is rolled back to the last "
        "good dataset, and the loader runs only if that rollback succeeded. Run again after "
        "a crash, it finishes the interrupted run instead of starting one. Prints each "
        "phase's outcome. " + SHARES,
        ("sagalog data-pipeline --config docs/examples/pipeline/config.json",),
        {0: "the run ended as success or partial_success", 1: "the run failed",
         2: BAD_INPUT, 3: TIMED_OUT, 130: INTERRUPTED},
    ),
    "master-pipeline": CommandHelp(
        "run the staged master pipeline once",
        "Runs the staged master pipeline of a configuration once: initialisation, "
        "integration, transformation, monitoring, maintenance (only with --maintenance) "
        "and semantic refresh, each stage retried as its configuration says; a stage that "
        "still fails ends the run and the stages after it are skipped. --resume instead "
        "finishes the runs an interrupted process left in the log. Prints each stage's "
        "outcome. " + SHARES,
        ("sagalog master-pipeline --config docs/examples/master/master.json",
         "sagalog master-pipeline --resume"),
        {0: "every run completed", 1: "a stage failed", 2: BAD_INPUT, 3: TIMED_OUT,
         130: INTERRUPTED},
    ),
    "etl": CommandHelp(
        "probe, download and check ETL sources",
        "Runs the ETL sources of a configuration: probes each source (ETag and size), "
        "downloads it only when it changed, checks its format and checksum, and records it "
        "in the manifest; a file that fails the check is quarantined. It first finishes any "
        "run a crash interrupted. One line per source. --resume only finishes interrupted "
        "runs; --manifest prints the manifest (the last record per source) and writes "
        "nothing. " + SHARES,
        ("sagalog etl --config docs/examples/etl/sources.json --serve docs/examples/etl/site",
         "sagalog etl --config sources.json --dry-run", "sagalog etl --manifest"),
        {0: "no source failed", 1: "a source failed or was quarantined", 2: BAD_INPUT,
         3: TIMED_OUT, 130: INTERRUPTED},
    ),
    "list": CommandHelp(
        "every saga and run: kind, status, duration",
        "Lists the sagas and runs of the log, oldest first, with kind, status, start (UTC), "
        "duration and number of records: by default the newest 100. The filters combine. "
        + READ_ONLY,
        ("sagalog list", "sagalog list --status failed --kind order",
         "sagalog list --since 2026-11-22T10:00 --limit 0 --format json"),
        {0: "listed (also when nothing matches)", 2: BAD_INPUT},
    ),
    "timeline": CommandHelp(
        "one run in order across its actors",
        "One run (a saga, a job, a pipeline run: its id as list shows it) in log order across "
        "all its actors and streams: the time since its start, the position, the actor that "
        "wrote each record, what caused it, and each decision's rule and reason. --format "
        "mermaid prints a sequence diagram of actors and streams. " + READ_ONLY,
        ("sagalog timeline o1-3", "sagalog timeline o1-3 --format mermaid > run.mmd"),
        {0: "shown", 2: BAD_INPUT + ", or no run with that id"},
    ),
    "explain": CommandHelp(
        "each decision of a run, in words",
        "Each decision of one run in words: why it was made, the commands it issued and the "
        "answers they got, then the steps that never started (work that did not happen). "
        + READ_ONLY,
        ("sagalog explain o1-3", "sagalog explain o1-3 --format json"),
        {0: "explained", 2: BAD_INPUT + ", or no run with that id"},
    ),
    "show": CommandHelp(
        "one record and its causal chain",
        "One record in full (its envelope and data), then its causal chain: the record that "
        "caused it, the one that caused that, and so on back to the root. " + READ_ONLY,
        ("sagalog show 1", "sagalog show 42 --format json"),
        {0: "shown", 2: BAD_INPUT + ", or no record at that position"},
    ),
    "bundle": CommandHelp(
        "one run's records as a log of its own",
        "Copies one run's records into a new log of their own, to attach to a ticket; every "
        "command here opens it. Event ids, streams, correlation and causation ids, data and "
        "the original times are kept; positions start again at 1 (the bundle's metadata "
        "maps them back, and what-if replays it at them). An existing FILE is refused unless "
        "--force. The log itself is only read.",
        ("sagalog bundle o1-3 -o o1-3.db", "sagalog timeline o1-3 --db o1-3.db"),
        {0: "written (the output names the file and its positions)",
         2: BAD_INPUT + ", no run with that id, or FILE exists"},
    ),
    "tail": CommandHelp(
        "follow the log live, a line per record",
        "Follows the log live, one line per record: position, time, stream, actor, type and "
        "a summary (a decision's rule and reason). It starts at the end, like tail -f, or "
        "replays from --from P, and sees the commits of every process. Each line is flushed "
        "at once, so tail | grep Failed shows failures as they happen; on a terminal each "
        "line is cut to its width (marked with …), piped output is never cut. SIGINT or "
        "SIGTERM stops it. " + READ_ONLY,
        ("sagalog tail", "sagalog tail --from 1 --types OrderFailed,SagaDecided",
         "sagalog tail --count 10 --idle-exit 5 | grep Failed"),
        {0: "stopped: by SIGINT or SIGTERM, --count or --idle-exit",
         2: BAD_INPUT + ", or an unknown type in --types"},
    ),
    "report": CommandHelp(
        "one run as a self-contained HTML page",
        "Writes one run as a single self-contained HTML page: a Gantt chart of its steps per "
        "actor (failures red, compensations hatched, decisions as diamonds), the decisions "
        "with their rule and reason, and the errors. The page fetches nothing when opened. "
        "The file is replaced whole, never half-written; the command prints its path. The "
        "log is only read.",
        ("sagalog report o1-3 --html o1-3.html",),
        {0: "written", 2: BAD_INPUT + ", or no run with that id"},
    ),
    "what-if": CommandHelp(
        "replay every saga through the current code",
        "Feeds every saga's recorded inputs to the saga code as it is now and reports each "
        "decision that would differ: the saga, the trigger's position, the recorded decision "
        "and the one made now (rule, reason, commands), decisions no longer made or newly "
        "made included. Run it in CI against a copy of a production log before deploying "
        "changed saga code: the exit code says whether anything differs. One pass over the "
        "log; a progress bar on a terminal (on stderr, never on stdout). " + READ_ONLY,
        ("sagalog what-if --db prod-copy.db",
         "sagalog what-if --db prod-copy.db --format json > what-if.json"),
        {0: "no decision would differ", 1: "a decision would differ (each one is listed)",
         2: BAD_INPUT, 130: INTERRUPTED},
    ),
    "at": CommandHelp(
        "the state of every saga as of a position or a time",
        "Every saga started by POSITION (or by TIME, with --as-of), as it stood right after "
        "that record: its status, the stage it was in, the reason it was undoing or how it "
        "ended, and each step's status. The log up to there is folded exactly as the saga "
        "actors fold it. " + READ_ONLY,
        ("sagalog at 120", "sagalog at --as-of 2026-11-22T10:00 --format json"),
        {0: "shown", 2: BAD_INPUT + ", or a position or time outside the log",
         130: INTERRUPTED},
    ),
    "graph": CommandHelp(
        "a saga definition as a Mermaid flowchart",
        "Prints a saga definition as a Mermaid flowchart: the stages in order, parallel steps "
        "side by side, gates as diamonds, a fan-out with its cap, each compensation on a "
        "dashed edge. A step that can fail and has nothing to undo it is outlined in red and "
        "warned about on stderr. Reads no log.",
        ("sagalog graph order", "sagalog graph etl-source > etl.mmd"),
        {0: "drawn (warnings included)", 2: BAD_INPUT + ", or an unknown saga"},
    ),
}
"""Every command's help, by its words on the command line ("" is sagalog itself)."""

JSON_SHAPES = {
    "list": '{"runs": [{"run_id", "kind", "status", "started", "ended", "duration_s", '
            '"events", "first_position"}], "shown", "total"}; times are ISO 8601 in UTC',
    "explain": '{"run_id", "saga", "status", "reason", "decisions": [{"position", "rule", '
               '"reason", "commands": [{"type", "position", "answers": [{"type", '
               '"position", "actor"}], "expects_answer"}]}], "never_started": [{"step", '
               '"nothing_to_undo"}]}',
    "show": '{"record": {the keys of an export line}, "causes": [{"position", "type", '
            '"stream_id", "event_id"}] (root last), "complete"}: complete is false when a '
            'cause is not in this log',
    "verify": '{"ok", "records", "first_bad_position", "problem", "quick_check"}',
    "timeline": '{"run_id", "entries": [{"position", "recorded_at", "actor", "stream_id", '
                '"type", "caused_by", "rule", "reason", "data"}]}',
    "at": '{"position", "sagas": [{"saga", "saga_id", "status", "stage", "steps", "reason", '
          '"started_position"}]}',
    "what-if": '{"differences": [{"saga", "saga_id", "trigger_position", "trigger_type", '
               '"recorded", "now"}] (each decision {"rule", "reason", "commands"} or null), '
               '"summary": {"ok", "differing", "recorded_decisions", "sagas", '
               '"last_position", "unjudged", "source_positions"}}',
}
"""The JSON document of each command with ``--format json``, as its help states it."""


def _epilog(text: CommandHelp) -> str:
    examples = "\n".join(f"  {example}" for example in text.examples)
    exits = "\n".join(textwrap.fill(meaning, 79, initial_indent=f"  {code:<4} ",
                                     subsequent_indent=" " * 7)
                       for code, meaning in sorted(text.exits.items()))
    return f"examples:\n{examples}\n\nexit codes:\n{exits}"


def _add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str
) -> argparse.ArgumentParser:
    """The subparser of ``name`` with its help from :data:`HELP`, and the global flags."""
    text = HELP[name]
    command = commands.add_parser(
        name.rsplit(maxsplit=1)[-1], help=text.summary,
        description=textwrap.fill(text.description, 79),
        epilog=_epilog(text), formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_flags(command, default=argparse.SUPPRESS)
    return command


def _global_flags(command: argparse.ArgumentParser, default: object) -> None:
    """``--db`` and ``-q``, accepted before or after the command.

    A subcommand's copies default to ``SUPPRESS``: given there, they set the value; not
    given, they leave the one parsed before the command (or the top-level default).
    """
    command.add_argument("--db", default=default, metavar="PATH",
                         help="the log's SQLite file (default: ./sagalog.db; the showcase: "
                              "./sagalog-showcase/sagalog.db)")
    command.add_argument("-q", "--quiet", action="store_true", default=default,
                         help="no log lines on stderr")


def _format_flag(command: argparse.ArgumentParser, name: str,
                 choices: tuple[str, ...] = ("text", "json")) -> None:
    shape = JSON_SHAPES.get(name)
    command.add_argument("--format", choices=choices, default="text",
                         help="text (the default) or " + ", ".join(choices[1:])
                         + (f"; json is one document on stdout: {shape}" if shape else ""))


def add_failure_flags(command: argparse.ArgumentParser) -> None:
    """The failure-injection flags shared by order and resume."""
    command.add_argument("--fail", action="append", default=[], metavar="SERVICE",
                         help="this service fails for every order (payment, inventory, shipping)")
    command.add_argument("--product-missing", action="store_true",
                         help="every order's product is missing")
    command.add_argument("--fail-rate", type=float, default=0.0, metavar="R",
                         help="each service fails with probability R, decided per order")
    command.add_argument("--seed", type=int, default=0, help="seed for --fail-rate")


def parser() -> argparse.ArgumentParser:
    """The whole command line: every command, with its help from :data:`HELP`."""
    showcase = HELP[""]
    top = argparse.ArgumentParser(
        prog="sagalog", description=textwrap.fill(showcase.description, 79),
        epilog=_epilog(showcase), formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"sagalog {__version__}")
    _global_flags(top, default=None)
    commands = top.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    order = _add_command(commands, "order")
    order.add_argument("--count", type=int, default=1, metavar="N",
                       help="how many orders (default %(default)s)")
    order.add_argument("--concurrency", type=int, default=16, metavar="C",
                       help="orders in flight at once (default %(default)s)")
    add_failure_flags(order)
    add_failure_flags(_add_command(commands, "resume"))
    exporting = _add_command(commands, "export")
    exporting.add_argument("--correlation", metavar="ID", help="only the records of this run")
    exporting.add_argument("--stream", metavar="S", help="only the records of this stream")
    exporting.add_argument("--from", dest="from_position", type=int, default=1, metavar="P",
                           help="from position P on (default %(default)s)")
    exporting.add_argument("--to", type=int, metavar="P", help="up to position P")
    importing = _add_command(commands, "import")
    importing.add_argument("file", metavar="FILE", help="the JSON Lines file")
    _format_flag(_add_command(commands, "verify"), "verify")
    jobs = _add_command(commands, "jobs")
    submit = _add_command(jobs.add_subparsers(dest="jobs_command", required=True,
                                              title="commands", metavar="COMMAND"),
                          "jobs submit")
    submit.add_argument("--config", metavar="FILE", help="the jobs configuration (JSON)")
    submit.add_argument("--max-payload-bytes", type=int, metavar="N",
                        help="refuse a job message over N bytes (default: the config's "
                             "max_payload_bytes, 1048576)")
    submit.add_argument("files", nargs="+", metavar="FILE", help="one job message (JSON) each")
    working = _add_command(commands, "worker")
    working.add_argument("--until-idle", action="store_true", help="exit once no work is left")
    pipeline = _add_command(commands, "data-pipeline")
    pipeline.add_argument("--config", required=True, metavar="FILE",
                          help="the pipeline's JSON configuration")
    master = _add_command(commands, "master-pipeline")
    master.add_argument("--config", metavar="FILE", help="the pipeline's JSON configuration")
    master.add_argument("--maintenance", action="store_true", help="run the maintenance stage")
    master.add_argument("--resume", action="store_true",
                        help="finish the runs of an existing log instead of starting one")
    etl_command = _add_command(commands, "etl")
    etl_command.add_argument("--config", metavar="FILE", help="the sources (JSON)")
    etl_command.add_argument("--dry-run", action="store_true",
                             help="stop each source after the probe and freshness check")
    etl_command.add_argument("--force-refresh", action="store_true",
                             help="download every source, fresh or not")
    etl_command.add_argument("--serve", metavar="DIR",
                             help="serve DIR on a local port as the config's base_url")
    etl_command.add_argument("--resume", action="store_true",
                             help="finish interrupted runs of the log; start none")
    etl_command.add_argument("--manifest", action="store_true",
                             help="print the manifest (the last record per source)")
    add_history_commands(commands)
    return top


def add_history_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The read-only commands that explain a log."""
    from sagalog.sagas.history import STATUSES

    listing = _add_command(commands, "list")
    listing.add_argument("--status", metavar="S",
                         help=f"only runs with this status: {', '.join(STATUSES)}")
    listing.add_argument("--kind", metavar="K",
                         help=f"only runs of this kind: {', '.join(dict.fromkeys(KINDS.values()))}")
    listing.add_argument("--since", metavar="T",
                         help="only runs started at or after T (ISO 8601; UTC unless it says)")
    listing.add_argument("--limit", type=int, default=100, metavar="N",
                         help="show the newest N (default %(default)s; 0 shows all)")
    _format_flag(listing, "list")
    timeline = _add_command(commands, "timeline")
    timeline.add_argument("run_id", metavar="ID", help="the run's id, as list shows it")
    _format_flag(timeline, "timeline", ("text", "mermaid", "json"))
    explaining = _add_command(commands, "explain")
    explaining.add_argument("run_id", metavar="ID", help="the run's id, as list shows it")
    _format_flag(explaining, "explain")
    showing = _add_command(commands, "show")
    showing.add_argument("position", type=int, metavar="POSITION", help="the record's position")
    _format_flag(showing, "show")
    bundling = _add_command(commands, "bundle")
    bundling.add_argument("run_id", metavar="ID", help="the run's id, as list shows it")
    bundling.add_argument("-o", "--output", required=True, metavar="FILE",
                          help="the new log (refused if it exists)")
    bundling.add_argument("--force", action="store_true", help="replace FILE if it exists")
    tailing = _add_command(commands, "tail")
    tailing.add_argument("--from", dest="from_position", type=int, metavar="P",
                         help="replay from position P (default: only new records)")
    tailing.add_argument("--types", metavar="T,...", help="only records of these types")
    tailing.add_argument("--count", type=int, metavar="N", help="stop after N records")
    tailing.add_argument("--idle-exit", type=float, metavar="S",
                         help="stop after S seconds with nothing new")
    reporting = _add_command(commands, "report")
    reporting.add_argument("run_id", metavar="ID", help="the run's id, as list shows it")
    reporting.add_argument("--html", required=True, metavar="FILE",
                           help="write the page here (replaced whole, never half-written)")
    _format_flag(_add_command(commands, "what-if"), "what-if")
    at = _add_command(commands, "at")
    at.add_argument("position", type=int, nargs="?", metavar="POSITION",
                    help="the position to stop at")
    at.add_argument("--as-of", metavar="TIME",
                    help="the log as it stood at TIME (ISO 8601; UTC unless it says)")
    _format_flag(at, "at")
    drawing = _add_command(commands, "graph")
    drawing.add_argument("saga", metavar="SAGA_NAME", help=f"one of {', '.join(SAGA_NAMES)}")


COMMANDS: dict[str, Callable[[str, argparse.Namespace], int]] = {
    "order": lambda db, a: run_orders(db, a.count, a.concurrency, failure_plan(a)),
    "resume": lambda db, a: resume(db, failure_plan(a)),
    "export": export,
    "import": lambda db, a: import_file(db, a.file),
    "verify": lambda db, a: verify(db, a.format),
    "jobs": jobs_or_worker,
    "worker": jobs_or_worker,
    "data-pipeline": lambda db, a: data_pipeline(db, a.config),
    "master-pipeline": master_pipeline,
    "etl": etl,
    "list": history,
    "timeline": history,
    "explain": history,
    "show": history,
    "bundle": bundle_run,
    "tail": follow,
    "report": history,
    "what-if": check_what_if,
    "at": state_of_sagas,
    "graph": graph,
}
"""Each subcommand's function; no subcommand runs :func:`main_job`."""


SQLITE_INTEGER_MAX = 2**63 - 1
"""The largest number a log stores (SQLite's INTEGER); a larger position cannot exist."""
NUMBER_FLAGS = {"position": "POSITION", "from_position": "--from", "to": "--to",
                "count": "--count", "concurrency": "--concurrency", "limit": "--limit",
                "max_payload_bytes": "--max-payload-bytes"}
"""The integer arguments, by their ``argparse`` destination, as the user typed them."""


def check_numbers(arguments: argparse.Namespace) -> None:
    """Refuse, in one line, a number no log can hold or a limit that means nothing.

    Python's integers have no bound, SQLite's do: ``show 99999999999999999999`` would
    otherwise end in an ``OverflowError`` deep in the store.
    """
    for dest, flag in NUMBER_FLAGS.items():
        value = getattr(arguments, dest, None)
        if isinstance(value, int) and abs(value) > SQLITE_INTEGER_MAX:
            msg = f"{flag} {value} is out of range (a log's numbers go up to {SQLITE_INTEGER_MAX})"
            raise SagalogError(msg)
    limit = getattr(arguments, "limit", None)
    if limit is not None and limit < 0:
        msg = f"--limit must be 0 (show all) or more, not {limit}"
        raise SagalogError(msg)
    idle = getattr(arguments, "idle_exit", None)
    if idle is not None and not (math.isfinite(idle) and idle >= 0):
        msg = f"--idle-exit takes a number of seconds, 0 or more, not {idle}"
        raise SagalogError(msg)


def dispatch(arguments: argparse.Namespace) -> int:
    """Run the chosen command."""
    command = COMMANDS.get(arguments.command or "")
    if arguments.db == "":  # SQLite would open a temporary database for ''
        msg = "the log's path is empty; name its file"
        raise SagalogError(msg)
    check_numbers(arguments)
    if command is None:
        return main_job(arguments.db)
    return command(DEFAULT_DB if arguments.db is None else arguments.db, arguments)


def main(argv: Sequence[str] | None = None, *, program: bool = False) -> int:
    """Run the command line; return the exit code.

    Called as a function (``main(["list"])`` from a host application or a test), it leaves
    the host's loguru sinks alone: sagalog's lines reach whatever sinks the host has, if it
    turned them on. Run as a program (``program=True``: the ``sagalog`` script,
    ``python -m sagalog``, ``python run.py``) it owns the process: loguru's default sink is
    replaced by sagalog's lines on stderr, unless ``-q`` or the command prints data.
    """
    arguments = parser().parse_args(argv)
    CONSOLE.quiet = bool(arguments.quiet)
    if program:
        _log_to_stderr(quiet=bool(arguments.quiet) or arguments.command in QUIET_COMMANDS)
    try:
        return dispatch(arguments)
    except SagalogError as error:
        print(f"sagalog: error: {printable(error)}", file=sys.stderr)
        return 2
    except TimeoutError as error:
        print(f"sagalog: error: {printable(error)}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        return 0
    except OSError as error:  # a folder it cannot write, a full disk: the path, no traceback
        print(f"sagalog: error: {printable(_os_error(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sagalog: interrupted", file=sys.stderr)
        return 130


def _os_error(error: OSError) -> str:
    """``path: what went wrong``, as one line (a failed copy of a tree lists every file)."""
    failures = error.args[0] if isinstance(error, shutil.Error) and error.args else None
    if isinstance(failures, list) and failures:
        _source, target, why = failures[0]
        more = f" (and {len(failures) - 1} more files)" if len(failures) > 1 else ""
        return f"{target}: {str(why).split(': ', 1)[0]}{more}"
    why = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):  # say what to do about it: make room
        why = f"the disk is full ({why})"
    if error.filename is None:
        return why if error.errno in (errno.ENOSPC, errno.EDQUOT) else str(error)
    paths = " -> ".join(str(name) for name in (error.filename, error.filename2) if name)
    return f"{paths}: {why}"


QUIET_COMMANDS = frozenset({"export", "list", "graph"})
"""Commands that log nothing: their sinks are not even set up (``list`` starts faster)."""


def _log_to_stderr(*, quiet: bool) -> None:
    """The program's logging: sagalog's lines on stderr, and nothing else of loguru's."""
    if quiet:
        return
    from loguru import logger

    from sagalog.events import enable_logging

    logger.remove()  # the program owns the process: drop loguru's default sink
    enable_logging(sys.stderr, level="INFO")


def run() -> None:
    """The ``sagalog`` script and ``python -m sagalog``: :func:`main` as a program."""
    sys.exit(main(program=True))


if __name__ == "__main__":
    run()
