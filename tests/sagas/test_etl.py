"""The ETL workflow end to end: real actors, a real log, a real local HTTP server.

Each freshness rule, the dry run, probe and download failures, quarantine and checksum
failures, and bad configuration, asserting the recorded events and reasons.
"""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest

from sagalog.actors.etl import manifest
from sagalog.actors.etl_server import endless_body, redirect_to, serve_directory, trickle
from sagalog.events import SagalogError
from sagalog.events.etl import (
    FreshnessChecked,
    ManifestRecorded,
    Quarantined,
    SourceFailed,
    SourceUpdated,
)
from sagalog.events.sagas import SagaDecided
from sagalog.sagas.etl import add_etl_workflow, load_config, run_etl, unfinished_etl

CSV = b"city,population\nLisbon,545000\n"
JSON = b'[{"station": "S1", "celsius": 12.5}]'
HTML = b"<!DOCTYPE html>\n<html><body>Maintenance, back soon</body></html>\n"


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "cities.csv").write_bytes(CSV)
    (root / "readings.json").write_bytes(JSON)
    (root / "broken.csv").write_bytes(HTML)
    with serve_directory(root) as server:
        yield server


@pytest.fixture
def etl(sagalog_runtime):
    add_etl_workflow(sagalog_runtime)
    return sagalog_runtime


def write_config(tmp_path, base_url, sources=None, **extra) -> Path:
    sources = sources or [
        {"source_id": "cities", "url": "cities.csv", "expected_format": "csv"},
        {"source_id": "readings", "url": "readings.json", "expected_format": "json"},
    ]
    path = tmp_path / "sources.json"
    path.write_text(json.dumps({"base_url": base_url, "sources": sources, **extra}))
    return path


def lines(summary):
    return [outcome.line() for outcome in summary.outcomes]


def events(runtime, kind, run_id):
    return [r for r in runtime.store.read_all(types=[kind])
            if (r.correlation_id or "").startswith(run_id)]


def test_a_first_run_downloads_validates_and_records_every_source(etl, site, tmp_path):
    summary = run_etl(etl, write_config(tmp_path, site.base_url), timeout=20)
    assert [o.status for o in summary.outcomes] == ["updated", "updated"]
    assert summary.ok
    recorded = manifest(etl.store)
    assert sorted(recorded) == ["cities", "readings"]
    cities = recorded["cities"].record
    assert Path(cities.file_path).read_bytes() == CSV
    assert Path(cities.file_path).is_relative_to(tmp_path / "downloads")
    assert cities.sha256 == hashlib.sha256(CSV).hexdigest()
    rules = [r.data.rule for r in events(etl, FreshnessChecked, summary.run_id)]
    assert rules == ["no_manifest_record", "no_manifest_record"]
    assert site.count("GET", "/cities.csv") == 1
    assert unfinished_etl(etl.store) == set()


def test_a_second_run_skips_up_to_date_sources_naming_the_manifest_position(
        etl, site, tmp_path):
    config = write_config(tmp_path, site.base_url)
    run_etl(etl, config, timeout=20)
    position = manifest(etl.store)["cities"].position
    summary = run_etl(etl, config, timeout=20)
    assert lines(summary)[0] == (
        f"cities: up to date (download skipped: ETag unchanged since pos {position})")
    stops = [r.data.reason for r in events(etl, SagaDecided, summary.run_id)
             if r.data.rule == "stop"]
    assert f"download skipped: ETag unchanged since pos {position}" in stops[0]
    assert site.count("GET", "/cities.csv") == 1  # no second download
    assert manifest(etl.store)["cities"].position == position


def test_a_changed_file_is_downloaded_again_because_its_etag_changed(etl, site, tmp_path):
    config = write_config(tmp_path, site.base_url)
    run_etl(etl, config, timeout=20)
    (site.root / "cities.csv").write_bytes(CSV + b"Oslo,709000\n")
    summary = run_etl(etl, config, timeout=20)
    assert [o.status for o in summary.outcomes] == ["updated", "up to date"]
    (checked, _) = events(etl, FreshnessChecked, summary.run_id)
    assert checked.data.rule == "etag_changed"
    record = manifest(etl.store)["cities"].record
    assert Path(record.file_path).read_bytes() == CSV + b"Oslo,709000\n"
    assert site.count("GET", "/cities.csv") == 2


def test_a_deleted_download_is_fetched_again_because_the_file_is_missing(etl, site, tmp_path):
    config = write_config(tmp_path, site.base_url)
    run_etl(etl, config, timeout=20)
    first = manifest(etl.store)["cities"]
    Path(first.record.file_path).unlink()
    summary = run_etl(etl, config, timeout=20)
    (checked, _) = events(etl, FreshnessChecked, summary.run_id)
    assert checked.data.rule == "file_missing"
    assert checked.data.reason.startswith(f"file recorded at pos {first.position} is missing")
    assert Path(manifest(etl.store)["cities"].record.file_path).exists()


def test_force_refresh_downloads_fresh_sources_again(etl, site, tmp_path):
    config = write_config(tmp_path, site.base_url)
    run_etl(etl, config, timeout=20)
    summary = run_etl(etl, config, force_refresh=True, timeout=20)
    assert [o.status for o in summary.outcomes] == ["updated", "updated"]
    assert {r.data.rule for r in events(etl, FreshnessChecked, summary.run_id)} == {
        "force_refresh"}
    assert site.count("GET", "/cities.csv") == 2


def test_a_dry_run_probes_and_stops_without_downloading(etl, site, tmp_path):
    summary = run_etl(etl, write_config(tmp_path, site.base_url), dry_run=True, timeout=20)
    assert lines(summary)[0] == (
        "cities: dry run (dry run: download needed (no_manifest_record) but not executed)")
    assert site.count("HEAD") == 2
    assert site.count("GET") == 0
    assert manifest(etl.store) == {}
    assert not (tmp_path / "downloads").exists()


def test_the_config_files_flags_apply_unless_overridden(etl, site, tmp_path):
    config = write_config(tmp_path, site.base_url, dry_run=True)
    assert {o.status for o in run_etl(etl, config, timeout=20).outcomes} == {"dry run"}
    assert {o.status for o in run_etl(etl, config, dry_run=False, timeout=20).outcomes} == {
        "updated"}


def test_a_missing_remote_file_fails_at_the_probe(etl, site, tmp_path):
    config = write_config(tmp_path, site.base_url, sources=[
        {"source_id": "gone", "url": "gone.csv", "expected_format": "csv"}])
    summary = run_etl(etl, config, timeout=20)
    assert lines(summary) == ["gone: failed (probe: HTTP 404 Not Found)"]
    assert not summary.ok
    assert site.count("GET") == 0


def test_an_unreachable_server_fails_at_the_probe(etl, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    summary = run_etl(etl, write_config(tmp_path, f"http://127.0.0.1:{port}"), timeout=20)
    assert {o.status for o in summary.outcomes} == {"failed"}
    assert "probe: cannot connect" in summary.outcomes[0].reason


def test_a_file_gone_between_probe_and_download_fails_the_download(etl, site, tmp_path):
    def vanish(method, path):
        if method == "GET":
            (site.root / "cities.csv").unlink(missing_ok=True)

    site.on_request = vanish
    config = write_config(tmp_path, site.base_url, sources=[
        {"source_id": "cities", "url": "cities.csv", "expected_format": "csv"}])
    summary = run_etl(etl, config, timeout=20)
    assert lines(summary) == ["cities: failed (download: HTTP 404 Not Found)"]
    assert manifest(etl.store) == {}


def test_an_html_page_served_as_csv_is_quarantined_and_never_recorded(etl, site, tmp_path):
    config = write_config(tmp_path, site.base_url, sources=[
        {"source_id": "broken", "url": "broken.csv", "expected_format": "csv"}])
    summary = run_etl(etl, config, timeout=20)
    (outcome,) = summary.outcomes
    assert outcome.status == "quarantined"
    assert not summary.ok
    (quarantined,) = events(etl, Quarantined, summary.run_id)
    moved = Path(quarantined.data.quarantine_path)
    assert moved.is_relative_to(tmp_path / "quarantine")
    assert moved.read_bytes() == HTML
    assert not Path(quarantined.data.path).exists()
    assert manifest(etl.store) == {}
    assert events(etl, ManifestRecorded, summary.run_id) == []


def test_a_checksum_other_than_the_declared_one_is_quarantined(etl, site, tmp_path):
    config = write_config(tmp_path, site.base_url, sources=[
        {"source_id": "cities", "url": "cities.csv", "expected_format": "csv",
         "sha256": "0" * 64}])
    (outcome,) = run_etl(etl, config, timeout=20).outcomes
    assert outcome.status == "quarantined"
    assert outcome.reason.startswith("checksum mismatch: the source declares sha256 000")
    assert manifest(etl.store) == {}


@pytest.mark.parametrize(("content", "message"), [
    ("{", "not JSON (line 1, column 2"),
    ('{"sources": []}', "sources: List should have at least 1 item"),
    ('{"sources": [{"source_id": "a", "url": "http://x/a", "expected_format": "xml"}]}',
     "sources[0].expected_format: Input should be"),
    ('{"sources": [{"source_id": "a", "url": "a.csv", "expected_format": "csv"}]}',
     "sources[0].url: 'a.csv' is not an http(s) URL"),
    (('{"sources": [{"source_id": "a", "url": "http://x/a", "expected_format": "csv"},'
     ' {"source_id": "a", "url": "http://x/b", "expected_format": "csv"}]}'),
     "sources[1].source_id: 'a' appears twice"),
    (('{"sources": [{"source_id": "a", "url": "http://x", "expected_format": "csv"}],'
     ' "probe_timeout": -1}'), "probe_timeout: Input should be greater than 0"),
    (('{"sources": [{"source_id": "a", "url": "http://x", "expected_format": "csv"}],'
     ' "colour": "blue"}'), "colour: Extra inputs are not permitted"),
])
def test_a_bad_config_names_the_file_and_the_field(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SagalogError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_relative_directories_are_read_against_the_config_files_directory(tmp_path):
    (tmp_path / "conf").mkdir()
    path = write_config(tmp_path / "conf", "http://h/", download_dir="../data")
    config = load_config(path)
    assert config.settings.download_dir == str((tmp_path / "data").resolve())
    assert config.settings.quarantine_dir == str((tmp_path / "conf" / "quarantine").resolve())
    assert config.sources[0].url == "http://h/cities.csv"


def test_a_missing_config_file_is_named(etl, tmp_path):
    with pytest.raises(SagalogError, match=r"nope\.json: cannot read the ETL config"):
        run_etl(etl, tmp_path / "nope.json", timeout=5)


# -- the download's limits, end to end (issue #9) --------------------------------------------

def test_an_endless_source_fails_too_large_and_is_never_updated(etl, site, tmp_path):
    site.routes["/forever.csv"] = endless_body()
    config = write_config(tmp_path, site.base_url, sources=[
        {"source_id": "forever", "url": "forever.csv", "expected_format": "csv",
         "max_bytes": 100_000},
        {"source_id": "cities", "url": "cities.csv", "expected_format": "csv"}])
    summary = run_etl(etl, config, timeout=20)
    assert [o.status for o in summary.outcomes] == ["failed", "updated"]
    (failed,) = events(etl, SourceFailed, summary.run_id)
    assert (failed.data.stage, failed.data.cause) == ("download", "too_large")
    assert "cap of 100000 bytes" in failed.data.reason
    assert events(etl, SourceUpdated, summary.run_id)[0].data.source_id == "cities"
    assert sorted(manifest(etl.store)) == ["cities"]
    assert not (tmp_path / "downloads" / "forever").exists()
    assert list((tmp_path / "downloads").rglob("*.part")) == []


def test_the_runs_max_bytes_caps_sources_that_set_none(etl, site, tmp_path):
    config = write_config(tmp_path, site.base_url, max_bytes=len(CSV) - 1, sources=[
        {"source_id": "cities", "url": "cities.csv", "expected_format": "csv"},
        {"source_id": "roomy", "url": "cities.csv", "expected_format": "csv",
         "max_bytes": len(CSV)}])
    summary = run_etl(etl, config, timeout=20)
    assert [o.status for o in summary.outcomes] == ["failed", "updated"]
    assert summary.outcomes[0].reason.startswith("download: too large:")


def test_a_trickling_source_fails_at_its_deadline_and_is_never_updated(etl, site, tmp_path):
    site.routes["/slow.csv"] = trickle(CSV * 3, every=0.05)  # ~4.5 s for the whole body
    config = write_config(tmp_path, site.base_url, download_deadline=0.5,
                          download_timeout=5, sources=[
                              {"source_id": "slow", "url": "slow.csv",
                               "expected_format": "csv"}])
    summary = run_etl(etl, config, timeout=20)
    assert lines(summary) == [
        (f"slow: failed (download: deadline: the download of {site.base_url}/slow.csv took "
         f"longer than 0.5 s (connect, redirects and reads))")]
    (failed,) = events(etl, SourceFailed, summary.run_id)
    assert failed.data.cause == "deadline"
    assert site.served["GET", "/slow.csv"] == 0
    assert manifest(etl.store) == {}
    assert list((tmp_path / "downloads").rglob("*.part")) == []


def test_a_redirected_source_records_its_final_url_in_the_manifest(etl, site, tmp_path):
    site.routes["/moved.csv"] = redirect_to("/cities.csv", status=308)
    config = write_config(tmp_path, site.base_url, sources=[
        {"source_id": "cities", "url": "moved.csv", "expected_format": "csv"}])
    summary = run_etl(etl, config, timeout=20)
    assert [o.status for o in summary.outcomes] == ["updated"]
    record = manifest(etl.store)["cities"].record
    assert (record.url, record.final_url) == (f"{site.base_url}/moved.csv",
                                              f"{site.base_url}/cities.csv")


def test_a_redirect_to_a_file_url_fails_the_source_with_the_reason(etl, site, tmp_path):
    site.routes["/sneaky.csv"] = redirect_to("file:///etc/passwd")
    config = write_config(tmp_path, site.base_url, sources=[
        {"source_id": "sneaky", "url": "sneaky.csv", "expected_format": "csv"}])
    summary = run_etl(etl, config, timeout=20)
    assert lines(summary) == [
        (f"sneaky: failed (probe: redirect refused: {site.base_url}/sneaky.csv redirects "
         f"(302) to 'file:///etc/passwd'; only http and https are followed)")]
    assert site.count("GET") == 0


def test_the_default_cap_and_deadline_are_in_the_settings(tmp_path):
    config = load_config(write_config(tmp_path, "http://h/"))
    assert (config.settings.max_bytes, config.settings.download_deadline) == (
        256 * 1024 * 1024, 600.0)
    assert config.sources[0].max_bytes is None


@pytest.mark.parametrize(("extra", "source_extra", "message"), [
    ({"max_bytes": 0}, {}, "max_bytes: Input should be greater than 0"),
    ({"download_deadline": -1}, {}, "download_deadline: Input should be greater than 0"),
    ({}, {"max_bytes": "lots"},
     ("sources[0].max_bytes: Input should be a valid integer, unable to parse string as an "
      "integer")),
    ({}, {"max_bytes": -5}, "sources[0].max_bytes: Input should be greater than 0"),
])
def test_a_bad_cap_or_deadline_names_the_field(tmp_path, extra, source_extra, message):
    path = write_config(tmp_path, "http://h/", sources=[
        {"source_id": "a", "url": "a.csv", "expected_format": "csv", **source_extra}], **extra)
    with pytest.raises(SagalogError) as raised:
        load_config(path)
    assert str(raised.value) == f"{path}: {message}"
