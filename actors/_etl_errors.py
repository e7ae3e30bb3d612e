"""Why a download was refused or cut short: one typed error per kind, with its cause word.

The download adapter raises these while it streams and turns them into a
``DownloadFailed`` whose ``cause`` is the error's, so the saga records a reason a
program can test (``too_large``, ``deadline``, ``redirect``) beside the words a person
reads, and nothing of a refused body is ever recorded as downloaded.
"""

from __future__ import annotations

from sagalog.events import SagalogError
from sagalog.events.etl import DownloadFailure

__all__ = ["DeadlineExceededError", "DownloadError", "RedirectRefusedError", "ShortBodyError",
           "TooLargeError"]


class DownloadError(SagalogError):
    """A download the adapter stopped on purpose; ``cause`` says which limit it hit."""

    cause: DownloadFailure = "other"


class TooLargeError(DownloadError):
    """The body is (or is announced as) larger than the source's size cap."""

    cause: DownloadFailure = "too_large"


class DeadlineExceededError(DownloadError):
    """The whole download (connect, redirects, reads) took longer than its deadline."""

    cause: DownloadFailure = "deadline"


class RedirectRefusedError(DownloadError):
    """A redirect to a scheme other than http(s), or too many redirects in a row."""

    cause: DownloadFailure = "redirect"


class ShortBodyError(DownloadError):
    """The body ended before the length the server announced."""

    cause: DownloadFailure = "short_body"
