"""The ETL workflow's adapters, each against the real thing: a local HTTP server, real files.

The probe, the download, the validation gate (magic bytes and checksums, per format),
the freshness gate's five rules, and the manifest projection over a real log.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
import zipfile
from pathlib import Path

import pytest

from sagalog.actors._etl_http import download, download_path, probe
from sagalog.actors._etl_validate import validate
from sagalog.actors.etl import ManifestEntry, check_freshness, manifest
from sagalog.actors.etl_server import serve_directory
from sagalog.events.etl import (
    Downloaded,
    DownloadFailed,
    DownloadSource,
    ManifestRecorded,
    ProbeFailed,
    Quarantined,
    SourceProbed,
    Validated,
    ValidateFile,
)
from sagalog.store import open_store

CSV = b"city,population\nLisbon,545000\n"
HTML = b"<!DOCTYPE html>\n<html><body><h1>Service unavailable, try later</h1></body></html>\n"


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", CSV)
    return buffer.getvalue()


VALID = {
    "csv": CSV,
    "json": b'  {"rows": [1, 2, 3]}\n',
    "gzip": gzip.compress(CSV, mtime=0),
    "zip": zip_bytes(),
    "parquet": b"PAR1" + b"\x15\x00\x15\x1c" * 4 + b"\x08\x00\x00\x00PAR1",
}
INVALID = {
    "csv": (HTML, "not csv: starts like HTML"),
    "json": (b"id,name\n1,a\n", "not json: starts with"),
    "gzip": (CSV, "not gzip: magic bytes"),
    "zip": (gzip.compress(CSV), "not zip: magic bytes"),
    "parquet": (b"PAR1" + b"\x00" * 20, "not parquet: no PAR1 footer"),
}


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "cities.csv").write_bytes(CSV)
    with serve_directory(root) as server:
        yield server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command(tmp_path, url, fmt="csv", run_id="r1") -> DownloadSource:
    return DownloadSource(run_id=run_id, source_id="cities", url=url, headers={}, timeout=5,
                          download_dir=str(tmp_path / "downloads"), expected_format=fmt,
                          probed_etag='"x"')


def validation(path: Path, fmt: str, tmp_path: Path, *, sha256: str | None = None,
               expected: str | None = None) -> ValidateFile:
    digest = sha256 or hashlib.sha256(path.read_bytes()).hexdigest()
    return ValidateFile(run_id="r1", source_id="cities", path=str(path), expected_format=fmt,
                        sha256=digest, expected_sha256=expected,
                        quarantine_dir=str(tmp_path / "quarantine"))


# -- the server and the probe -----------------------------------------------------------------

def test_probe_reads_etag_and_size_with_a_head_request_and_never_a_get(site):
    result = probe("cities", f"{site.base_url}/cities.csv", {}, 5)
    assert isinstance(result, SourceProbed)
    assert result.size == len(CSV)
    assert result.etag == f'"{hashlib.sha256(CSV).hexdigest()[:32]}"'
    assert site.count("HEAD", "/cities.csv") == 1
    assert site.count("GET") == 0


def test_the_servers_etag_changes_when_the_file_changes(site):
    before = probe("cities", f"{site.base_url}/cities.csv", {}, 5)
    (site.root / "cities.csv").write_bytes(CSV + b"Oslo,709000\n")
    after = probe("cities", f"{site.base_url}/cities.csv", {}, 5)
    assert isinstance(before, SourceProbed)
    assert isinstance(after, SourceProbed)
    assert before.etag != after.etag


def test_probe_of_a_missing_file_fails_with_the_http_status(site):
    result = probe("cities", f"{site.base_url}/nope.csv", {}, 5)
    assert result == ProbeFailed(source_id="cities", error="HTTP 404 Not Found")


def test_probe_of_a_closed_port_fails_naming_the_connection_error():
    result = probe("cities", f"http://127.0.0.1:{free_port()}/x.csv", {}, 5)
    assert isinstance(result, ProbeFailed)
    assert result.error.startswith("cannot connect:")
    assert "refused" in result.error.lower()


def test_the_server_refuses_paths_outside_its_directory(site, tmp_path):
    (tmp_path / "secret.csv").write_bytes(CSV)
    result = probe("cities", f"{site.base_url}/../secret.csv", {}, 5)
    assert isinstance(result, ProbeFailed)


# -- the download ---------------------------------------------------------------------------

def test_download_streams_to_a_file_and_hashes_it(site, tmp_path):
    result = download(command(tmp_path, f"{site.base_url}/cities.csv"))
    assert isinstance(result, Downloaded)
    assert Path(result.path).read_bytes() == CSV
    assert result.sha256 == hashlib.sha256(CSV).hexdigest()
    assert result.size == len(CSV)
    assert result.etag is not None
    assert Path(result.path) == tmp_path / "downloads" / "cities" / "r1.csv"
    assert list((tmp_path / "downloads" / ".etl").rglob("*.part")) == []


def test_a_redelivered_download_answers_from_the_complete_file_without_a_second_get(
        site, tmp_path):
    first = download(command(tmp_path, f"{site.base_url}/cities.csv"))
    again = download(command(tmp_path, f"{site.base_url}/cities.csv"))
    assert isinstance(first, Downloaded)
    assert isinstance(again, Downloaded)
    assert (again.path, again.sha256, again.size) == (first.path, first.sha256, first.size)
    assert site.count("GET", "/cities.csv") == 1


def test_a_download_of_a_missing_file_fails_and_leaves_no_file(site, tmp_path):
    wanted = command(tmp_path, f"{site.base_url}/gone.csv")
    result = download(wanted)
    assert result == DownloadFailed(source_id="cities", error="HTTP 404 Not Found",
                                    cause="http_status")
    assert not download_path(wanted).exists()


# -- the validation gate --------------------------------------------------------------------

@pytest.mark.parametrize("fmt", sorted(VALID))
def test_each_formats_valid_magic_bytes_pass(tmp_path, fmt):
    path = tmp_path / f"file.{fmt}"
    path.write_bytes(VALID[fmt])
    result = validate(validation(path, fmt, tmp_path))
    assert isinstance(result, Validated)
    assert path.exists()


@pytest.mark.parametrize("fmt", sorted(INVALID))
def test_each_formats_bad_magic_is_quarantined(tmp_path, fmt):
    content, reason = INVALID[fmt]
    path = tmp_path / f"file.{fmt}"
    path.write_bytes(content)
    result = validate(validation(path, fmt, tmp_path))
    assert isinstance(result, Quarantined)
    assert result.reason.startswith(reason), result.reason
    assert not path.exists()
    assert Path(result.quarantine_path) == tmp_path / "quarantine" / "cities" / path.name
    assert Path(result.quarantine_path).read_bytes() == content


def test_an_html_error_page_with_commas_is_still_not_csv(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"<html><head><title>Error 503, sorry</title></head></html>")
    result = validate(validation(path, "csv", tmp_path))
    assert isinstance(result, Quarantined)
    assert "HTML" in result.reason


def test_csv_without_a_delimiter_or_with_nul_bytes_fails(tmp_path):
    for name, content, reason in [("a.csv", b"just words\n", "no delimiter"),
                                  ("b.csv", b"a,b\n\x00\x01", "NUL bytes")]:
        path = tmp_path / name
        path.write_bytes(content)
        result = validate(validation(path, "csv", tmp_path))
        assert isinstance(result, Quarantined)
        assert reason in result.reason


def test_json_that_starts_right_but_does_not_parse_fails(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b'{"rows": [1, 2')
    result = validate(validation(path, "json", tmp_path))
    assert isinstance(result, Quarantined)
    assert result.reason.startswith("not json: does not parse")


def test_a_file_changed_since_the_download_fails_the_checksum(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(CSV)
    result = validate(validation(path, "csv", tmp_path, sha256="0" * 64))
    assert isinstance(result, Quarantined)
    assert result.reason.startswith("checksum mismatch: the file on disk has sha256")


def test_a_file_without_the_declared_checksum_is_quarantined(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(CSV)
    result = validate(validation(path, "csv", tmp_path, expected="f" * 64))
    assert isinstance(result, Quarantined)
    assert result.reason.startswith(f"checksum mismatch: the source declares sha256 {'f' * 64}")


def test_the_declared_checksum_passes_when_it_matches(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(CSV)
    result = validate(validation(path, "csv", tmp_path,
                                 expected=hashlib.sha256(CSV).hexdigest()))
    assert isinstance(result, Validated)


def test_a_redelivered_validation_after_the_move_answers_the_same(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(HTML)
    first = validate(validation(path, "csv", tmp_path))
    again = validate(validation(path, "csv", tmp_path, sha256=hashlib.sha256(HTML).hexdigest()))
    assert first == again


# -- the freshness gate ---------------------------------------------------------------------

def entry(etag: str | None, path: str = "/data/cities.csv", position: int = 77) -> ManifestEntry:
    record = ManifestRecorded(source_id="cities", run_id="r0", url="http://x/c.csv", etag=etag,
                              sha256="a" * 64, size=1, file_path=path, format="csv")
    return ManifestEntry(record, position)


def freshness(etag, *, force=False, record=None, exists=True):
    return check_freshness("cities", etag, force_refresh=force, entry=record,
                           exists=lambda _path: exists)


def test_freshness_force_refresh_comes_first():
    result = freshness('"a"', force=True, record=entry('"a"'))
    assert (result.download_needed, result.rule) == (True, "force_refresh")


def test_freshness_without_a_manifest_record_downloads():
    result = freshness('"a"')
    assert (result.download_needed, result.rule, result.manifest_position) == (
        True, "no_manifest_record", None)


def test_freshness_with_a_changed_etag_downloads_and_names_both():
    result = freshness('"b"', record=entry('"a"'))
    assert (result.download_needed, result.rule) == (True, "etag_changed")
    assert result.reason == 'ETag changed since pos 77 ("a" -> "b")'
    assert result.manifest_position == 77


def test_freshness_checks_the_etag_before_the_file():
    result = freshness('"b"', record=entry('"a"'), exists=False)
    assert result.rule == "etag_changed"


def test_freshness_with_the_recorded_file_missing_downloads():
    result = freshness('"a"', record=entry('"a"'), exists=False)
    assert (result.download_needed, result.rule) == (True, "file_missing")
    assert result.reason == "file recorded at pos 77 is missing (/data/cities.csv)"


def test_freshness_up_to_date_names_the_manifest_position():
    result = freshness('"a"', record=entry('"a"'))
    assert (result.download_needed, result.rule, result.reason) == (
        False, "up_to_date", "ETag unchanged since pos 77")


def test_freshness_without_an_etag_from_the_server_skips_the_etag_rule_as_the_note_does():
    result = freshness(None, record=entry('"a"'))
    assert (result.download_needed, result.rule) == (False, "up_to_date")
    assert "no ETag from the server" in result.reason
    assert freshness(None, record=entry('"a"'), exists=False).rule == "file_missing"


# -- the manifest projection ----------------------------------------------------------------

def test_the_manifest_is_the_last_record_per_source(tmp_path):
    def record(source, sha):
        return ManifestRecorded(source_id=source, run_id="r", url="http://x", etag=None,
                                sha256=sha * 64, size=1, file_path=f"/{source}", format="csv")

    with open_store(tmp_path / "log.db", durability="off") as store:
        store.append("m", [record("a", "1"), record("b", "2")])
        store.append("m", [record("a", "3")])
        projected = manifest(store)
        assert {k: (v.record.sha256[0], v.position) for k, v in projected.items()} == {
            "a": ("3", 3), "b": ("2", 2)}
        before = manifest(store, before=3)
        assert before["a"].record.sha256[0] == "1"
