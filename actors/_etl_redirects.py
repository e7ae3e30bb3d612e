"""The ETL downloads' redirect policy: http(s) only, a few hops, within the deadline.

urllib's own handler follows redirects to ``ftp:`` (and reports others as an HTTP
error), allows ten hops, and reads a redirect's whole body before following it, so a
hostile server could send an endless body on a 302. This handler checks the target's
scheme and the hop count first, closes the redirect's body unread, and stops when the
download's deadline has passed; each refusal is a typed error naming the hop.
"""

from __future__ import annotations

import string
import urllib.request
from collections.abc import Callable
from http.client import HTTPMessage, HTTPResponse
from typing import IO
from urllib.parse import quote, urljoin, urlsplit

from sagalog.actors._etl_errors import RedirectRefusedError

__all__ = ["MAX_REDIRECTS", "REDIRECT_SCHEMES", "opener"]

MAX_REDIRECTS = 5
"""Redirects followed in a row; the sixth is refused."""
REDIRECT_SCHEMES = ("http", "https")

_HOPS = "sagalog_redirect_hops"


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, time_left: Callable[[], float]) -> None:
        super().__init__()
        self._time_left = time_left

    def http_error_302(self, req: urllib.request.Request, fp: IO[bytes], code: int,
                       msg: str, headers: HTTPMessage) -> HTTPResponse | None:
        location = headers.get("Location") or headers.get("URI")
        if location is None:
            return None
        fp.close()  # the redirect's own body is never read: it could be endless
        # As urllib does: headers are decoded as Latin-1; percent-encode what is not ASCII.
        target = urljoin(req.full_url, quote(location, encoding="iso-8859-1",
                                             safe=string.punctuation))
        scheme = urlsplit(target).scheme.lower()
        if scheme not in REDIRECT_SCHEMES:
            text = (f"redirect refused: {req.full_url} redirects ({code}) to {target!r}; "
                    f"only http and https are followed")
            raise RedirectRefusedError(text)
        hops = getattr(req, _HOPS, 0) + 1
        if hops > MAX_REDIRECTS:
            text = (f"redirect refused: more than {MAX_REDIRECTS} redirects in a row "
                    f"(the last from {req.full_url} to {target})")
            raise RedirectRefusedError(text)
        left = self._time_left()  # raises once the download's deadline has passed
        new = self.redirect_request(req, fp, code, msg, headers, target)
        if new is None:
            return None
        setattr(new, _HOPS, hops)
        timeout = req.timeout if req.timeout is None else min(req.timeout, left)
        followed: HTTPResponse = self.parent.open(new, timeout=timeout)
        return followed

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def opener(time_left: Callable[[], float]) -> urllib.request.OpenerDirector:
    """An opener that follows http(s) redirects only, at most :data:`MAX_REDIRECTS`.

    ``time_left`` answers the seconds left before the download's deadline and raises
    :class:`DeadlineExceededError` when none are; each hop asks it before following.
    """
    return urllib.request.build_opener(_HttpOnlyRedirects(time_left))

