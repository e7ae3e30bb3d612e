"""The download's limits against a real local server: size cap, deadline, redirect policy.

Issue #9: an endless body wrote 12.5 GB and was recorded "updated"; a server trickling a
byte a second ran 50 s past a 2 s timeout; urllib followed redirects to ``ftp:``. Each
limit must fail the download with its typed cause, leave no partial file and publish
nothing. The deadline tests drive an injected clock, so they take no real time to expire.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from pathlib import Path

import pytest

from sagalog.actors._etl_http import download, download_path, probe
from sagalog.actors._etl_redirects import MAX_REDIRECTS
from sagalog.actors.etl_server import endless_body, redirect_to, serve_directory, trickle
from sagalog.events.etl import (
    DEFAULT_MAX_BYTES,
    Downloaded,
    DownloadFailed,
    DownloadSource,
    ProbeFailed,
    SourceProbed,
)
from tests.support import MountRefusedError, mounted

CSV = b"city,population\nLisbon,545000\n"
CAP = 256 * 1024


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "cities.csv").write_bytes(CSV)
    with serve_directory(root) as server:
        yield server


def command(tmp_path: Path, url: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
            deadline: float = 600.0, timeout: float = 5.0) -> DownloadSource:
    return DownloadSource(run_id="r1", source_id="cities", url=url, headers={},
                          timeout=timeout, download_dir=str(tmp_path / "downloads"),
                          expected_format="csv", probed_etag=None, max_bytes=max_bytes,
                          deadline=deadline)


def ticking(step: float = 1.0):
    """A clock that moves ``step`` seconds each time it is read."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


def nothing_left_behind(tmp_path: Path, wanted: DownloadSource) -> None:
    assert not download_path(wanted).exists()
    assert list((tmp_path / "downloads").rglob("*.part")) == []


# -- the size cap ---------------------------------------------------------------------------

def test_an_endless_body_is_stopped_at_the_cap_and_nothing_is_published(site, tmp_path):
    site.routes["/forever.csv"] = endless_body()
    wanted = command(tmp_path, f"{site.base_url}/forever.csv", max_bytes=CAP)
    result = download(wanted)
    assert isinstance(result, DownloadFailed)
    assert result.cause == "too_large"
    assert result.error == (f"too large: the body of {site.base_url}/forever.csv goes past "
                            f"the cap of {CAP} bytes (max_bytes); stopped there")
    nothing_left_behind(tmp_path, wanted)


def test_a_body_announced_over_the_cap_is_refused_before_it_is_read(site, tmp_path):
    (site.root / "big.csv").write_bytes(b"a,b\n" * 1000)
    wanted = command(tmp_path, f"{site.base_url}/big.csv", max_bytes=3999)
    result = download(wanted)
    assert result == DownloadFailed(
        source_id="cities", cause="too_large",
        error=f"too large: {site.base_url}/big.csv announces 4000 bytes, over the cap of "
              f"3999 bytes (max_bytes)")
    nothing_left_behind(tmp_path, wanted)


def test_a_body_exactly_at_the_cap_is_downloaded(site, tmp_path):
    result = download(command(tmp_path, f"{site.base_url}/cities.csv", max_bytes=len(CSV)))
    assert isinstance(result, Downloaded)
    assert result.size == len(CSV)


# -- the deadline ---------------------------------------------------------------------------

def test_a_trickling_body_is_stopped_at_the_deadline_though_no_read_times_out(
        site, tmp_path):
    site.routes["/slow.csv"] = trickle(CSV * 20, every=0.005)
    wanted = command(tmp_path, f"{site.base_url}/slow.csv", deadline=5, timeout=5)
    result = download(wanted, clock=ticking())
    assert isinstance(result, DownloadFailed)
    assert result.cause == "deadline"
    assert result.error == (f"deadline: the download of {site.base_url}/slow.csv took longer "
                            f"than 5 s (connect, redirects and reads)")
    assert site.served["GET", "/slow.csv"] == 0  # stopped long before the body's end
    nothing_left_behind(tmp_path, wanted)


def test_a_download_within_its_deadline_is_not_disturbed_by_the_clock(site, tmp_path):
    result = download(command(tmp_path, f"{site.base_url}/cities.csv", deadline=50),
                      clock=ticking())
    assert isinstance(result, Downloaded)
    assert result.sha256 == hashlib.sha256(CSV).hexdigest()


class SetClock:
    """A clock that shows what the test (or the server) last set."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_silent_server_is_given_what_is_left_of_the_deadline_not_a_whole_read_timeout(
        site, tmp_path):
    clock = SetClock()

    def silent_after_a_few_bytes(handler, body):
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.flush()
        clock.now = 9.8  # most of the deadline went by while the body streamed
        handler.wfile.write(CSV)
        handler.wfile.flush()
        handler.server.stopping.wait()  # then nothing more, until the server stops

    site.routes["/silent.csv"] = silent_after_a_few_bytes
    wanted = command(tmp_path, f"{site.base_url}/silent.csv", deadline=10, timeout=30)
    started = time.monotonic()
    result = download(wanted, clock=clock)
    waited = time.monotonic() - started
    # 0.2 s were left of the deadline: the silent read waited about that, where a whole
    # read timeout (here 10 s, the deadline's length when the connection was made) used to.
    assert waited < 5, f"waited {waited:.1f} s for a silent server"
    assert isinstance(result, DownloadFailed)
    assert (result.cause, result.error) == ("deadline", (
        f"deadline: the download of {site.base_url}/silent.csv took longer than 10 s "
        f"(connect, redirects and reads)"))
    nothing_left_behind(tmp_path, wanted)


def test_redirects_count_against_the_deadline(site, tmp_path):
    for hop in range(3):
        site.routes[f"/hop{hop}.csv"] = redirect_to(f"/hop{hop + 1}.csv")
    site.routes["/hop3.csv"] = redirect_to("/cities.csv")
    wanted = command(tmp_path, f"{site.base_url}/hop0.csv", deadline=3)
    result = download(wanted, clock=ticking())
    assert isinstance(result, DownloadFailed)
    assert result.cause == "deadline"
    assert site.count("GET", "/cities.csv") == 0
    nothing_left_behind(tmp_path, wanted)


# -- redirects ------------------------------------------------------------------------------

def test_an_http_redirect_is_followed_and_the_final_url_recorded(site, tmp_path):
    site.routes["/old.csv"] = redirect_to(f"{site.base_url}/cities.csv", status=301)
    result = download(command(tmp_path, f"{site.base_url}/old.csv"))
    assert isinstance(result, Downloaded)
    assert result.final_url == f"{site.base_url}/cities.csv"
    assert Path(result.path).read_bytes() == CSV


def test_a_redelivered_download_answers_with_the_final_url_of_the_first(site, tmp_path):
    site.routes["/old.csv"] = redirect_to("/cities.csv", status=307)
    first = download(command(tmp_path, f"{site.base_url}/old.csv"))
    again = download(command(tmp_path, f"{site.base_url}/old.csv"))
    assert isinstance(first, Downloaded)
    assert again == first
    assert site.count("GET", "/cities.csv") == 1


@pytest.mark.parametrize("target", [
    "file:///etc/passwd", "ftp://127.0.0.1/cities.csv", "data:text/csv,a%2Cb%0A1%2C2",
    "gopher://127.0.0.1/x"])
def test_a_redirect_to_another_scheme_fails_naming_it(site, tmp_path, target):
    site.routes["/elsewhere.csv"] = redirect_to(target)
    wanted = command(tmp_path, f"{site.base_url}/elsewhere.csv")
    result = download(wanted)
    assert result == DownloadFailed(
        source_id="cities", cause="redirect",
        error=f"redirect refused: {site.base_url}/elsewhere.csv redirects (302) to "
              f"{target!r}; only http and https are followed")
    nothing_left_behind(tmp_path, wanted)


def chain(site, hops: int) -> str:
    """``/r0.csv`` redirecting ``hops`` times, ending at ``/cities.csv``; its URL."""
    for hop in range(hops):
        after = f"/r{hop + 1}.csv" if hop + 1 < hops else "/cities.csv"
        site.routes[f"/r{hop}.csv"] = redirect_to(after)
    return f"{site.base_url}/r0.csv"


def test_a_few_redirects_in_a_row_are_followed(site, tmp_path):
    result = download(command(tmp_path, chain(site, MAX_REDIRECTS)))
    assert isinstance(result, Downloaded)
    assert result.final_url == f"{site.base_url}/cities.csv"


def test_one_redirect_too_many_fails(site, tmp_path):
    wanted = command(tmp_path, chain(site, MAX_REDIRECTS + 1))
    result = download(wanted)
    assert result == DownloadFailed(
        source_id="cities", cause="redirect",
        error=f"redirect refused: more than {MAX_REDIRECTS} redirects in a row (the last "
              f"from {site.base_url}/r{MAX_REDIRECTS}.csv to {site.base_url}/cities.csv)")
    assert site.count("GET", "/cities.csv") == 0
    nothing_left_behind(tmp_path, wanted)


def test_the_probe_follows_the_same_redirect_policy(site):
    site.routes["/old.csv"] = redirect_to("/cities.csv")
    site.routes["/local.csv"] = redirect_to("file:///etc/passwd")
    assert isinstance(probe("cities", f"{site.base_url}/old.csv", {}, 5), SourceProbed)
    refused = probe("cities", f"{site.base_url}/local.csv", {}, 5)
    assert isinstance(refused, ProbeFailed)
    assert refused.error.startswith(f"redirect refused: {site.base_url}/local.csv redirects")


# -- partial files --------------------------------------------------------------------------

def test_a_partial_file_left_by_a_killed_handler_is_removed_by_the_next(site, tmp_path):
    wanted = command(tmp_path, f"{site.base_url}/cities.csv")
    leftover = tmp_path / "downloads" / ".etl" / "partial" / "cities" / "r1.4242.dead.part"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(CSV[:5])
    assert isinstance(download(wanted), Downloaded)
    assert not leftover.exists()
    assert download_path(wanted).read_bytes() == CSV


# -- a full disk ----------------------------------------------------------------------------

def test_a_full_disk_fails_the_download_as_io_and_leaves_nothing(site, tmp_path):
    (site.root / "big.csv").write_bytes(b"a,b\n" * 200_000)  # 800 kB on a 256 kB disk
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        with mounted(disk, "-t", "tmpfs", "-o", "size=256k", "tmpfs"):
            wanted = DownloadSource(
                run_id="r1", source_id="cities", url=f"{site.base_url}/big.csv", headers={},
                timeout=5, download_dir=str(disk / "downloads"), expected_format="csv",
                probed_etag=None)
            result = download(wanted)
            assert isinstance(result, DownloadFailed)
            assert result.cause == "io"
            assert "No space left on device" in result.error
            assert not download_path(wanted).exists()
            assert list((disk / "downloads").rglob("*.part")) == []
    except MountRefusedError as refused:
        pytest.skip(f"cannot mount a small tmpfs here: {refused}")


def test_a_download_directory_that_cannot_be_made_fails_the_download_as_io(site, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the download directory should be")
    wanted = DownloadSource(run_id="r1", source_id="cities", url=f"{site.base_url}/cities.csv",
                            headers={}, timeout=5, download_dir=str(blocker),
                            expected_format="csv", probed_etag=None)
    result = download(wanted)
    assert isinstance(result, DownloadFailed)
    assert result.cause == "io"
    assert result.error.startswith("NotADirectoryError: ")
    assert str(blocker) in result.error
    assert site.count("GET") == 0
