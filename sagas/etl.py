"""The ETL source orchestrator, one saga per source per run.

Probe -> freshness gate -> dry-run gate -> download -> validation gate -> manifest. The
note's ``run_source`` becomes a saga whose every step is a command to a service actor
and whose every answer is in the log: the probe's ETag, the freshness gate's rule and the
manifest position it compared against, the gate that stopped the run and why, the
downloaded file's hash, the validation verdict, the manifest record. The manifest itself
is a projection of the log (:func:`actors.etl.manifest`), never a file beside it.

A run is one append: ``EtlRunStarted`` (the configuration, the flags) and one
``SourceRunStarted`` per source, each starting its saga on its own stream. After a crash
the actors resume from the log, so ``resume_etl`` only has to wait.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sagalog.actors import Runtime
from sagalog.actors.etl import (
    DownloadService,
    FreshnessService,
    ManifestService,
    ProbeService,
    ValidationService,
    manifest,
)
from sagalog.events import Envelope, Event, Message, TMessage
from sagalog.events.etl import (
    CheckFreshness,
    Downloaded,
    DownloadFailed,
    DownloadSource,
    EtlRunStarted,
    FreshnessChecked,
    ManifestRecorded,
    ProbeFailed,
    ProbeSource,
    Quarantined,
    RecordManifest,
    SourceFailed,
    SourceProbed,
    SourceQuarantined,
    SourceRunStarted,
    SourceSkipped,
    SourceUpdated,
    Validated,
    ValidateFile,
)
from sagalog.sagas._actor import saga_actor
from sagalog.sagas._definition import Gate, Results, SagaDefinition, Stage, Step, Verdict
from sagalog.sagas._etl_config import EtlConfig, load_config
from sagalog.sagas._waiting import next_batch
from sagalog.store import AppendRequest, EventStoreProtocol, LogReaderProtocol

__all__ = [
    "ETL_SAGA",
    "ETL_TERMINAL_TYPES",
    "EtlConfig",
    "EtlSummary",
    "SourceOutcome",
    "add_etl_workflow",
    "download_gate",
    "dry_run_verdict",
    "etl_saga_id",
    "etl_stream",
    "freshness_verdict",
    "load_config",
    "manifest_lines",
    "outcome_of",
    "resume_etl",
    "run_etl",
    "start_etl_run",
    "unfinished_etl",
    "wait_for_etl",
]

ETL_TERMINAL_TYPES = ("SourceUpdated", "SourceSkipped", "SourceQuarantined", "SourceFailed")
"""The events that end one source's saga."""


def etl_saga_id(run_id: str, source_id: str) -> str:
    """One source's saga in one run (its correlation id)."""
    return f"{run_id}/{source_id}"


def etl_stream(run_id: str, source_id: str) -> str:
    """The stream of one source's saga: its start, commands, results and decisions."""
    return f"etl-{etl_saga_id(run_id, source_id)}"


def _start(start: Event) -> SourceRunStarted:
    assert isinstance(start, SourceRunStarted)  # noqa: S101 - the saga starts only on it
    return start


def _result(results: Results, step: str, kind: type[TMessage]) -> TMessage:
    data = results[step].data
    assert isinstance(data, kind)  # noqa: S101 - the stage ran only after this result
    return data


# -- commands, built from the start and the results so far --------------------------------

def _probe(start: Event) -> ProbeSource:
    s = _start(start)
    return ProbeSource(run_id=s.run_id, source_id=s.source.source_id, url=s.source.url,
                       headers=s.source.headers, timeout=s.settings.probe_timeout)


def _check_freshness(start: Event, results: Results) -> CheckFreshness:
    s = _start(start)
    probed = _result(results, "probe", SourceProbed)
    return CheckFreshness(run_id=s.run_id, source_id=s.source.source_id, etag=probed.etag,
                          force_refresh=s.force_refresh)


def _download(start: Event, results: Results) -> DownloadSource:
    s = _start(start)
    probed = _result(results, "probe", SourceProbed)
    return DownloadSource(
        run_id=s.run_id, source_id=s.source.source_id, url=s.source.url,
        headers=s.source.headers, timeout=s.settings.download_timeout,
        download_dir=s.settings.download_dir, expected_format=s.source.expected_format,
        probed_etag=probed.etag, max_bytes=s.source.max_bytes or s.settings.max_bytes,
        deadline=s.settings.download_deadline,
    )


def _validate(start: Event, results: Results) -> ValidateFile:
    s = _start(start)
    downloaded = _result(results, "download", Downloaded)
    return ValidateFile(run_id=s.run_id, source_id=s.source.source_id, path=downloaded.path,
                        expected_format=s.source.expected_format, sha256=downloaded.sha256,
                        expected_sha256=s.source.sha256,
                        quarantine_dir=s.settings.quarantine_dir)


def _record(start: Event, results: Results) -> RecordManifest:
    s = _start(start)
    downloaded = _result(results, "download", Downloaded)
    return RecordManifest(run_id=s.run_id, source_id=s.source.source_id, url=s.source.url,
                          etag=downloaded.etag, sha256=downloaded.sha256, size=downloaded.size,
                          file_path=downloaded.path, format=s.source.expected_format,
                          final_url=downloaded.final_url)


# -- the gates ------------------------------------------------------------------------------

def freshness_verdict(_start_event: Event, results: Results) -> Verdict:
    """The freshness gate: pass when the freshness check said a download is needed."""
    checked = _result(results, "freshness", FreshnessChecked)
    if not checked.download_needed:
        return Verdict(passed=False, reason=f"download skipped: {checked.reason}")
    return Verdict(passed=True, reason=f"download needed ({checked.rule}): {checked.reason}")


def dry_run_verdict(start: Event, results: Results) -> Verdict:
    """The dry-run gate: in a dry run, stop before downloading anything."""
    checked = _result(results, "freshness", FreshnessChecked)
    if _start(start).dry_run:
        return Verdict(passed=False,
                       reason=f"dry run: download needed ({checked.rule}) but not executed")
    return Verdict(passed=True, reason="not a dry run")


def download_gate(start: Event, results: Results) -> Verdict:
    """The freshness gate, then the dry-run gate, in the note's order (the first no stops).

    One sagalog stage has one gate, and both of the note's gates stand in front of the
    download, so they are asked in turn here; the verdict names which one answered.
    """
    fresh = freshness_verdict(start, results)
    if not fresh.passed:
        return fresh
    dry = dry_run_verdict(start, results)
    if not dry.passed:
        return dry
    return Verdict(passed=True, reason=f"{fresh.reason}; {dry.reason}")


# -- the ends -------------------------------------------------------------------------------

def _completed(start: Event, results: Results) -> Event:
    s = _start(start)
    checked = _result(results, "freshness", FreshnessChecked)
    common = {"run_id": s.run_id, "source_id": s.source.source_id}
    if "manifest" in results:
        recorded = _result(results, "manifest", ManifestRecorded)
        return SourceUpdated(**common, rule=checked.rule, file_path=recorded.file_path,
                             sha256=recorded.sha256, etag=recorded.etag)
    if not checked.download_needed:
        return SourceSkipped(**common, why="up_to_date",
                             reason=freshness_verdict(start, results).reason)
    return SourceSkipped(**common, why="dry_run", reason=dry_run_verdict(start, results).reason)


def _failed(start: Event, reason: str, _undone: list[str], results: Results) -> Event:
    s = _start(start)
    common = {"run_id": s.run_id, "source_id": s.source.source_id}
    stage = reason.split(" failed", 1)[0]
    answer = results.get(stage)
    data = answer.data if answer is not None else None
    if isinstance(data, Quarantined):
        return SourceQuarantined(**common, reason=data.reason,
                                 quarantine_path=data.quarantine_path)
    if isinstance(data, DownloadFailed):
        return SourceFailed(**common, stage=stage, reason=data.error, cause=data.cause)
    if isinstance(data, ProbeFailed):
        return SourceFailed(**common, stage=stage, reason=data.error)
    return SourceFailed(**common, stage=stage, reason=reason)


ETL_SAGA = SagaDefinition(
    name="etl-source",
    start=SourceRunStarted,
    saga_id=lambda start: etl_saga_id(_start(start).run_id, _start(start).source.source_id),
    stream=lambda start: etl_stream(_start(start).run_id, _start(start).source.source_id),
    stages=(
        Stage((Step("probe", command=_probe, succeeded=(SourceProbed,),
                    failed=(ProbeFailed,)),), name="probe"),
        Stage((Step("freshness", command=_check_freshness, succeeded=(FreshnessChecked,),
                    failed=()),), name="freshness"),
        Stage((Step("download", command=_download, succeeded=(Downloaded,),
                    failed=(DownloadFailed,)),),
              gate=Gate("freshness/dry-run", download_gate, otherwise="stop"),
              name="download"),
        Stage((Step("validate", command=_validate, succeeded=(Validated,),
                    failed=(Quarantined,)),), name="validate"),
        Stage((Step("manifest", command=_record, succeeded=(ManifestRecorded,),
                    failed=()),), name="manifest"),
    ),
    completed=_completed,
    failed=_failed,
)
"""One source's saga (registered type names in :mod:`events.etl`)."""


def add_etl_workflow(runtime: Runtime) -> None:
    """Register the five service actors and the source saga (no configuration needed)."""
    for actor in (ProbeService, FreshnessService, DownloadService, ValidationService,
                  ManifestService):
        runtime.add(actor)
    runtime.add(saga_actor(ETL_SAGA), name="saga:etl-source")


# -- runs -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceOutcome:
    """How one source of a run ended, in the words the command line prints."""

    source_id: str
    status: str
    """updated, up to date, dry run, quarantined or failed."""
    reason: str
    position: int
    """Where the terminal event is in the log."""

    @property
    def ok(self) -> bool:
        """False for a source that failed or whose download was quarantined."""
        return self.status not in ("failed", "quarantined")

    def line(self) -> str:
        """``source: status (reason)``."""
        return f"{self.source_id}: {self.status} ({self.reason})"


@dataclass(frozen=True)
class EtlSummary:
    """A run's outcome per source, in the configuration's order."""

    run_id: str
    outcomes: tuple[SourceOutcome, ...]

    @property
    def ok(self) -> bool:
        """Whether no source failed."""
        return all(outcome.ok for outcome in self.outcomes)


def outcome_of(envelope: Envelope[Message]) -> SourceOutcome:
    """A terminal event as an outcome line."""
    data = envelope.data
    position = envelope.position
    if isinstance(data, SourceUpdated):
        return SourceOutcome(data.source_id, "updated",
                             f"{data.rule}; {data.file_path}", position)
    if isinstance(data, SourceSkipped):
        status = "up to date" if data.why == "up_to_date" else "dry run"
        return SourceOutcome(data.source_id, status, data.reason, position)
    if isinstance(data, SourceQuarantined):
        return SourceOutcome(data.source_id, "quarantined",
                             f"{data.reason}; moved to {data.quarantine_path}", position)
    if isinstance(data, SourceFailed):
        return SourceOutcome(data.source_id, "failed", f"{data.stage}: {data.reason}",
                             position)
    msg = f"not an ETL terminal event: {envelope.type}"
    raise TypeError(msg)


def start_etl_run(runtime: Runtime, config: EtlConfig, *, dry_run: bool,
                  force_refresh: bool, run_id: str | None = None) -> tuple[str, list[str]]:
    """Append a run's start and its sources' starts in one transaction.

    Returns the run id and the saga ids, in the configuration's order.
    """
    run = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    sagas = [etl_saga_id(run, source.source_id) for source in config.sources]
    requests = [AppendRequest(
        f"etl-run-{run}",
        [EtlRunStarted(run_id=run, config_path=str(config.path), sources=sagas,
                       settings=config.settings, dry_run=dry_run,
                       force_refresh=force_refresh)],
        correlation_id=run, event_ids=[uuid.uuid5(_ETL_IDS, run)],
    )]
    requests += [
        AppendRequest(
            etl_stream(run, source.source_id),
            [SourceRunStarted(run_id=run, source=source, settings=config.settings,
                              dry_run=dry_run, force_refresh=force_refresh)],
            correlation_id=saga, event_ids=[uuid.uuid5(_ETL_IDS, saga)],
        )
        for source, saga in zip(config.sources, sagas, strict=True)
    ]
    runtime.store.append_all(requests)
    return run, sagas


def run_etl(
    runtime: Runtime,
    config_path: str | Path,
    dry_run: bool | None = None,  # noqa: FBT001 - the command line's flags, by position too
    force_refresh: bool | None = None,  # noqa: FBT001
    *,
    base_url: str | None = None,
    on_end: Callable[[SourceOutcome], None] = lambda _outcome: None,
    timeout: float = 600.0,
) -> EtlSummary:
    """Finish any interrupted runs, then run every source of ``config_path``; wait for all.

    ``dry_run`` / ``force_refresh`` override the file's flags when not None; ``base_url``
    overrides its base URL. The workflow must be registered (:func:`add_etl_workflow`).

    Raises:
        SagalogError: the configuration is wrong (naming the file and the field).
        TimeoutError: a source made no progress for ``timeout`` seconds.

    """
    config = load_config(config_path, base_url)
    resume_etl(runtime, timeout=timeout)
    since = runtime.store.last_position() + 1
    run, sagas = start_etl_run(
        runtime, config,
        dry_run=config.dry_run if dry_run is None else dry_run,
        force_refresh=config.force_refresh if force_refresh is None else force_refresh,
    )
    ended = wait_for_etl(runtime.store, sagas, since, on_end=on_end, timeout=timeout,
                         runtime=runtime)
    return EtlSummary(run, tuple(outcome_of(ended[saga]) for saga in sagas))


def resume_etl(runtime: Runtime, *, timeout: float = 600.0,
               on_end: Callable[[SourceOutcome], None] = lambda _outcome: None,
               ) -> list[SourceOutcome]:
    """Wait until every source saga of the log that had not ended has ended.

    The registered actors resume on their own from the log; this only waits for them.
    """
    pending = sorted(unfinished_etl(runtime.store))
    if not pending:
        return []
    ended = wait_for_etl(runtime.store, pending, 1, on_end=on_end, timeout=timeout,
                         runtime=runtime)
    return [outcome_of(ended[saga]) for saga in pending]


def unfinished_etl(store: EventStoreProtocol) -> set[str]:
    """Saga ids of the sources whose run started and whose terminal event is not in the log."""
    started: set[str] = set()
    ended: set[str] = set()
    for record in store.read_all(types=["EtlRunStarted", *ETL_TERMINAL_TYPES]):
        if isinstance(record.data, EtlRunStarted):
            started.update(record.data.sources)
        else:
            ended.add(record.correlation_id or "")
    return started - ended


def wait_for_etl(
    store: EventStoreProtocol,
    sagas: Iterable[str],
    from_position: int,
    *,
    on_end: Callable[[SourceOutcome], None] = lambda _outcome: None,
    timeout: float = 600.0,
    runtime: Runtime | None = None,
) -> dict[str, Envelope[Message]]:
    """Block until each saga has a terminal event at or after ``from_position``.

    Given the ``runtime`` running the sagas, the wait also ends when it gives up on an
    actor, and a timeout names the actors paused on a storage fault.

    Raises:
        ActorGaveUpError: ``runtime`` gave up on an actor (see ``Runtime.check_actors``).
        TimeoutError: no saga ended for ``timeout`` seconds while some were left.

    """
    wanted = set(sagas)
    ended: dict[str, Envelope[Message]] = {}
    subscription = store.subscribe(from_position, types=list(ETL_TERMINAL_TYPES))
    try:
        while len(ended) < len(wanted):
            if runtime is not None:
                batch = next_batch(runtime, subscription, 100, timeout,
                                   lambda: f"{len(wanted) - len(ended)} ETL sources")
            else:
                batch = subscription.next_batch(100, timeout=timeout)
            if not batch:
                msg = f"{len(wanted) - len(ended)} ETL sources did not end within {timeout:g} s"
                raise TimeoutError(msg)
            for record in batch:
                saga = record.correlation_id or ""
                if saga in wanted and saga not in ended:
                    ended[saga] = record
                    on_end(outcome_of(record))
    finally:
        subscription.close()
    return ended


def manifest_lines(store: LogReaderProtocol) -> list[str]:
    """The manifest as text, one source a line (what ``run.py etl --manifest`` prints)."""
    return [f"{source}: {entry.record.file_path} sha256={entry.record.sha256[:16]}... "
            f"etag={entry.record.etag} (pos {entry.position})"
            for source, entry in sorted(manifest(store).items())]


_ETL_IDS = uuid.UUID("5d0c4f6e-2b7a-4e83-9a51-0c3e7d2f9b14")
