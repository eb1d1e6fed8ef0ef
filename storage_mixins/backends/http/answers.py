"""What an HTTP server's answer means for a file of ``HTTPStorage``: there, with
its :class:`~storage_mixins.backends.http.facts.Facts`; missing; or an error.

The rule, once redirects are followed (``client``):

* ``2xx``: the file is there, unless the answer is the site's catch-all page:
  an HTML page (``text/html``, ``application/xhtml+xml``) for a name that is
  not an HTML file (``.html``, ``.htm``, ``.xhtml``, ``.shtml``), which a CDN
  or a single-page app answers for any path (``html_catch_all=False`` reads it
  as the file);
* a redirect to the same path with a slash added (``photos`` to ``photos/``:
  what nginx and Apache answer for a directory): a directory, so no file;
* a status in ``missing_statuses`` (``404`` and ``410`` by default; add
  ``403`` for an S3 bucket or CloudFront, which answer ``403`` for a missing
  key when anonymous users may not list the bucket): missing;
* anything else raises :class:`~storage_mixins.backends.errors.HTTPStatusError`:
  ``401``/``403`` refusals, ``5xx`` (a transport error: the server is down),
  other ``4xx`` (a name the server rejects).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import HTTPStatusError
from .facts import Facts, parse_facts

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse

__all__ = ["DEFAULT_MISSING_STATUSES", "Answers"]

DEFAULT_MISSING_STATUSES = frozenset({404, 410})
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_HTML_NAMES = frozenset({".html", ".htm", ".xhtml", ".shtml"})
_HINTS = {
    401: "the server wants credentials: give HTTPStorage headers= (a token) or basic_auth=",
    403: (
        "refused; S3 buckets and CloudFront answer 403 for a missing key when anonymous "
        "users may not list the bucket: if this server does, add 403 to HTTPStorage's "
        "missing_statuses"
    ),
}


class Answers:
    """Reads answers for one ``HTTPStorage`` (see the module for the rule)."""

    def __init__(self, missing_statuses: Iterable[int], html_catch_all: bool) -> None:
        self.missing_statuses = frozenset(missing_statuses)
        self.html_catch_all = html_catch_all

    def facts(self, response: BaseHTTPResponse, name: str, url: str) -> Facts | None:
        """The facts of the file ``name`` (at ``url``) in ``response``, or ``None``
        if it is missing; raises ``HTTPStatusError`` for any other answer."""
        status = response.status
        if status in self.missing_statuses or _moved_to_directory(response, url):
            return None  # (a directory's page may be refused: no file either way)
        if not 200 <= status < 300:
            raise HTTPStatusError(status, url, _HINTS.get(status, ""))
        facts = parse_facts(response.headers, status)
        if self.html_catch_all and _is_catch_all(facts, name):
            return None
        return facts

    def is_missing(self, status: int) -> bool:
        return status in self.missing_statuses


def _moved_to_directory(response: BaseHTTPResponse, url: str) -> bool:
    answered = urlsplit(response.url or "").path
    asked = urlsplit(url).path
    return answered != asked and answered == f"{asked}/"


def _is_catch_all(facts: Facts, name: str) -> bool:
    media_type = facts.content_type.partition(";")[0].strip().lower()
    if media_type not in _HTML_TYPES:
        return False
    return posixpath.splitext(name)[1].lower() not in _HTML_NAMES
