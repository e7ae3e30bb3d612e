"""The ETL saga's decisions on synthetic streams: every path, its rules and its reasons."""

from __future__ import annotations

from sagalog.events.etl import (
    Downloaded,
    DownloadFailed,
    EtlSettings,
    EtlSource,
    FreshnessChecked,
    ManifestRecorded,
    ProbeFailed,
    Quarantined,
    SourceFailed,
    SourceProbed,
    SourceQuarantined,
    SourceRunStarted,
    SourceSkipped,
    SourceUpdated,
    Validated,
)
from sagalog.events.runtime import HandlerFailed
from sagalog.sagas.etl import ETL_SAGA
from sagalog.sagas.testing import replay

SOURCE = EtlSource(source_id="cities", url="http://x/cities.csv", expected_format="csv")
SETTINGS = EtlSettings(download_dir="/d", quarantine_dir="/q")


def started(*, dry_run=False, force_refresh=False):
    return SourceRunStarted(run_id="r1", source=SOURCE, settings=SETTINGS, dry_run=dry_run,
                            force_refresh=force_refresh)


PROBED = SourceProbed(source_id="cities", etag='"b"', size=10, status=200)
NEEDED = FreshnessChecked(source_id="cities", download_needed=True, rule="etag_changed",
                          reason='ETag changed since pos 77 ("a" -> "b")', etag='"b"',
                          manifest_position=77)
FRESH = FreshnessChecked(source_id="cities", download_needed=False, rule="up_to_date",
                         reason="ETag unchanged since pos 77", etag='"b"', manifest_position=77)
DOWNLOADED = Downloaded(source_id="cities", path="/d/cities/r1.csv", sha256="c" * 64, size=10,
                        etag='"b"')
RECORDED = ManifestRecorded(source_id="cities", run_id="r1", url=SOURCE.url, etag='"b"',
                            sha256="c" * 64, size=10, file_path="/d/cities/r1.csv",
                            format="csv")


def ending(run):
    (end,) = [m for m in run.issued if type(m).message_type.startswith("Source")
              and type(m).message_type != "SourceRunStarted"]
    return end


def test_a_needed_download_runs_every_stage_and_ends_updated():
    run = replay(ETL_SAGA, [started(), PROBED, NEEDED, DOWNLOADED,
                            Validated(source_id="cities", path=DOWNLOADED.path, format="csv",
                                      sha256=DOWNLOADED.sha256), RECORDED])
    assert run.command_types() == ["ProbeSource", "CheckFreshness", "DownloadSource",
                                   "ValidateFile", "RecordManifest"]
    assert run.rules() == ["start-stage"] * 5 + ["complete"]
    assert ("gate freshness/dry-run: download needed (etag_changed): ETag changed since pos 77"
            in run.reasons()[2])
    assert ending(run) == SourceUpdated(source_id="cities", run_id="r1", rule="etag_changed",
                                        file_path=RECORDED.file_path, sha256=RECORDED.sha256,
                                        etag='"b"')


def test_the_commands_carry_what_the_results_said():
    run = replay(ETL_SAGA, [started(), PROBED, NEEDED, DOWNLOADED])
    check, download, validate = run.commands()[1:]
    assert check.etag == '"b"'
    assert download.probed_etag == '"b"'
    assert (validate.path, validate.sha256, validate.quarantine_dir) == (
        DOWNLOADED.path, DOWNLOADED.sha256, "/q")


def test_up_to_date_stops_before_the_download_naming_the_manifest_position():
    run = replay(ETL_SAGA, [started(), PROBED, FRESH])
    assert run.command_types() == ["ProbeSource", "CheckFreshness"]
    stop = run.decisions[2]
    assert stop.rule == "stop"
    assert stop.reason == ("stopped before stage download (download): download skipped: "
                           "ETag unchanged since pos 77")
    assert "skip" in run.rules()  # validate and manifest: recorded as never run
    assert ending(run) == SourceSkipped(source_id="cities", run_id="r1", why="up_to_date",
                                        reason="download skipped: ETag unchanged since pos 77")


def test_a_dry_run_stops_after_the_probe_and_freshness_check():
    run = replay(ETL_SAGA, [started(dry_run=True), PROBED, NEEDED])
    assert run.command_types() == ["ProbeSource", "CheckFreshness"]
    assert run.decisions[2].reason.endswith(
        "dry run: download needed (etag_changed) but not executed")
    assert ending(run).why == "dry_run"


def test_a_dry_run_of_a_fresh_source_says_up_to_date():
    run = replay(ETL_SAGA, [started(dry_run=True), PROBED, FRESH])
    assert ending(run).why == "up_to_date"


def test_force_refresh_goes_into_the_freshness_question():
    run = replay(ETL_SAGA, [started(force_refresh=True), PROBED])
    assert run.commands()[1].force_refresh is True


def test_a_failed_probe_ends_the_source_failed_with_the_error_and_nothing_else_runs():
    run = replay(ETL_SAGA, [started(), ProbeFailed(source_id="cities",
                                                   error="HTTP 404 Not Found")])
    assert run.command_types() == ["ProbeSource"]
    assert ending(run) == SourceFailed(source_id="cities", run_id="r1", stage="probe",
                                       reason="HTTP 404 Not Found")
    assert run.status() == "failed"


def test_a_failed_download_ends_the_source_failed():
    run = replay(ETL_SAGA, [started(), PROBED, NEEDED,
                            DownloadFailed(source_id="cities", error="HTTP 500 Oops",
                                           cause="http_status")])
    assert ending(run) == SourceFailed(source_id="cities", run_id="r1", stage="download",
                                       reason="HTTP 500 Oops", cause="http_status")
    assert "RecordManifest" not in run.command_types()


def test_a_quarantined_file_ends_quarantined_and_is_never_recorded():
    bad = Quarantined(source_id="cities", path=DOWNLOADED.path, reason="not csv: HTML",
                      quarantine_path="/q/cities/r1.csv")
    run = replay(ETL_SAGA, [started(), PROBED, NEEDED, DOWNLOADED, bad])
    assert "RecordManifest" not in run.command_types()
    assert ending(run) == SourceQuarantined(source_id="cities", run_id="r1",
                                            reason="not csv: HTML",
                                            quarantine_path="/q/cities/r1.csv")


def test_a_service_that_keeps_crashing_ends_the_source_failed_at_its_stage():
    crashed = HandlerFailed(actor="ValidationService", input_position=9, input_event_id="e",
                            input_type="ValidateFile", error_type="FileNotFoundError",
                            error_message="gone", traceback="", attempts=3)
    run = replay(ETL_SAGA, [started(), PROBED, NEEDED, DOWNLOADED, crashed])
    end = ending(run)
    assert isinstance(end, SourceFailed)
    assert end.stage == "validate"
    assert "ValidationService failed on it: FileNotFoundError" in end.reason
    assert "RecordManifest" not in run.command_types()
