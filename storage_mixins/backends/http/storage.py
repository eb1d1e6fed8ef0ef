"""``HTTPStorage``: a read-only storage over the URL where production's media
are published: no credentials, so production cannot be written by construction.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import Storage
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.encoding import filepath_to_uri

from ...core.errors import ReadOnlyError
from ...core.modes import checked_mode, is_write_mode
from ...core.names import AbsoluteName, RootName, file_name, url_name
from .answers import DEFAULT_MISSING_STATUSES, Answers
from .client import HTTPClient, discard
from .facts import Facts, FactsMemo
from .files import HTTPFile, RangeReader

__all__ = ["HTTPStorage", "is_http"]

_BUFFER_SIZE = 64 * 1024


@deconstructible(path="storage_mixins.HTTPStorage")
class HTTPStorage(Storage):
    """Read the files published under ``base_url`` (production's ``MEDIA_URL``:
    a CDN, a public bucket, nginx), sending only ``GET`` and ``HEAD``.

    Read-only by construction: ``save``, ``_save``, ``delete`` and a write-mode
    ``open`` raise :class:`~storage_mixins.ReadOnlyError` before any request,
    and :func:`~storage_mixins.is_read_only` says so, so a ``Fallback`` writes
    to another layer. ``exists`` is one ``HEAD`` (how statuses map to
    answers: ``storage_mixins.backends.http.answers``); ``size`` and
    ``get_modified_time`` are its ``Content-Length`` and ``Last-Modified``; one
    answer about a name serves them all for ``metadata_ttl`` seconds.
    ``open(name)`` streams the file with ranged ``GET``s, in bounded memory
    (``storage_mixins.backends.http.files``), and gives the bytes as the
    server sends them (an object stored gzipped stays gzipped). ``url(name)``
    is ``base_url`` followed by the name quoted as Django's own storages
    quote it. ``listdir`` and ``path`` raise ``NotImplementedError``: HTTP
    lists nothing, and the files are not on this disk.

    ``headers`` go with every request to ``base_url``'s host (a token for a
    staging site behind a login); ``basic_auth`` (``"user:password"`` or a
    pair) adds an ``Authorization`` header. ``timeout`` (each read) and
    ``connect_timeout`` are in seconds; ``retries`` more attempts follow a
    connection refused or reset, or a 502/503/504, after ``backoff`` seconds,
    then twice as long; up to ``max_redirects`` redirects are followed; up to
    ``max_connections`` connections are kept alive (one pool per storage,
    shared by threads: raise it for ``storage_pull --jobs`` above 10).
    ``missing_statuses`` are the statuses that mean "no such file" (404 and
    410; add 403 for an S3 bucket or CloudFront); ``html_catch_all`` reads an
    HTML page answered for a name that is not an HTML file as the site's
    catch-all page, so a miss.
    """

    #: Every write is refused before any I/O: ``is_read_only()`` reads it.
    refuses_writes: ClassVar[bool] = True

    def __init__(
        self,
        base_url: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        basic_auth: str | tuple[str, str] | list[str] | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 3.05,
        retries: int = 2,
        backoff: float = 0.25,
        missing_statuses: Iterable[int] = DEFAULT_MISSING_STATUSES,
        html_catch_all: bool = True,
        max_redirects: int = 5,
        max_connections: int = 10,
        metadata_ttl: float = 2.0,
    ) -> None:
        self.base_url = _checked_base_url(base_url)
        for option, value in (
            ("timeout", timeout),
            ("connect_timeout", connect_timeout),
            ("backoff", backoff),
            ("metadata_ttl", metadata_ttl),
        ):
            _check_number(option, value, minimum=0)
        for option, value in (
            ("retries", retries),
            ("max_redirects", max_redirects),
            ("max_connections", max_connections),
        ):
            _check_number(
                option, value, minimum=1 if option == "max_connections" else 0, whole=True
            )
        _require_urllib3()
        self._answers = Answers(_checked_statuses(missing_statuses), bool(html_catch_all))
        self._client = HTTPClient(
            self.base_url,
            headers=_headers(headers, basic_auth),
            connect_timeout=connect_timeout,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_redirects=max_redirects,
            max_connections=max_connections,
            storage=self,
        )
        self._memo = FactsMemo(metadata_ttl)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client.report_as(self)  # a copy's requests are its own

    @property
    def endpoint_url(self) -> str:
        """Where the files are read: ``base_url`` (it says which files there are,
        so it is part of the storage's identity in a shared cache)."""
        return self.base_url

    def __repr__(self) -> str:
        return f"HTTPStorage({self.base_url!r})"

    # -- reads -------------------------------------------------------------

    def head(self, name: str) -> Facts | None:
        """What the server says of the file ``name``: its facts, or ``None`` if
        it is missing. One ``HEAD``, or none while the last answer about
        ``name`` is less than ``metadata_ttl`` seconds old."""
        name = self._file_name(name)
        hit, facts = self._memo.get(name)
        if hit:
            return facts
        url = self._request_url(name)
        response = self._client.send("HEAD", url)
        try:
            facts = self._answers.facts(response, name, url)
        finally:
            discard(response)
        self._memo.put(name, facts)
        return facts

    def exists(self, name: str) -> bool:
        if name == "":
            return True  # the root, as a bucket's: a directory, always there
        return self.head(name) is not None

    def size(self, name: str) -> int:
        facts = self._facts(name)
        if facts.size is None:
            raise OSError(f"{self._request_url(name)} does not say its size (no Content-Length)")
        return facts.size

    def get_modified_time(self, name: str) -> datetime.datetime:
        """``Last-Modified``: aware (UTC) if ``USE_TZ``, else naive in the
        current time zone, as django-storages' ``S3Storage`` answers."""
        modified = self._facts(name).modified
        if modified is None:
            raise NotImplementedError(
                f"{self._request_url(name)} does not say when it was modified (no Last-Modified)"
            )
        return modified if settings.USE_TZ else timezone.make_naive(modified)

    def url(self, name: str | None) -> str:
        try:
            name = url_name(name)
        except RootName:
            return self.base_url
        except AbsoluteName as absolute:
            raise SuspiciousFileOperation(
                f"{absolute.name!r} is an absolute path: {self!r} has relative names only"
            ) from None
        return self.base_url + filepath_to_uri(name)

    def open(self, name: str, mode: str = "rb") -> HTTPFile:
        """The file ``name``, streamed (see ``files``); one ``GET`` now, which
        raises ``FileNotFoundError`` for a missing file. Bytes, whatever read
        mode is asked (as django-storages' files give)."""
        if mode.__class__ is not str:
            mode = checked_mode(mode)
        if is_write_mode(mode):
            raise ReadOnlyError(
                "open", name, self, f"mode {mode!r} would write, and {self!r} is read-only"
            )
        name = self._file_name(name)
        url = self._request_url(name)

        def reader() -> RangeReader:
            try:
                opened = RangeReader(self._client, self._answers, url, name)
            except FileNotFoundError:
                self._memo.put(name, None)
                raise
            self._memo.put(name, opened.facts)
            return opened

        return HTTPFile(self, name, reader, _BUFFER_SIZE)

    def _open(self, name: str, mode: str = "rb") -> HTTPFile:
        return self.open(name, mode)

    def listdir(self, path: str) -> NoReturn:
        raise NotImplementedError(
            f"{self!r} cannot list directories: HTTP has no listing. Its files are found "
            "by name (exists(), storage_pull --referenced)"
        )

    # -- writes: refused before any I/O ---------------------------------------

    def save(self, name: str | None, content: object, max_length: int | None = None) -> NoReturn:
        raise ReadOnlyError("save", name, self)

    def _save(self, name: str, content: object) -> NoReturn:
        raise ReadOnlyError("_save", name, self)

    def delete(self, name: str) -> NoReturn:
        raise ReadOnlyError("delete", name, self)

    # -- internals ---------------------------------------------------------------

    def _facts(self, name: str) -> Facts:
        facts = self.head(name)
        if facts is None:
            raise FileNotFoundError(2, f"Not found at {self._request_url(name)}", name)
        return facts

    def _file_name(self, name: str) -> str:
        """``name``, validated and in its one spelling (``core.names``): an
        unsafe, absolute or empty name raises before any request."""
        try:
            return file_name(name)
        except AbsoluteName as absolute:
            raise SuspiciousFileOperation(
                f"{absolute.name!r} is an absolute path: {self!r} has relative names only"
            ) from None
        except RootName:
            raise SuspiciousFileOperation(f"{name!r} names no file of {self!r}") from None

    def _request_url(self, name: str) -> str:
        return self.base_url + filepath_to_uri(name)


def _checked_base_url(base_url: object) -> str:
    if not isinstance(base_url, str) or not base_url:
        raise ImproperlyConfigured(
            "HTTPStorage needs base_url: the URL production's media are published under, "
            "such as 'https://cdn.example.com/media/'"
        )
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"HTTPStorage's base_url must be an http(s) URL, not {base_url!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise ImproperlyConfigured(
            "HTTPStorage's base_url must not hold credentials: url() would publish them in "
            "every page. Give basic_auth= or headers= instead"
        )
    if parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"HTTPStorage's base_url must have no query nor fragment, not {base_url!r}"
        )
    return base_url if base_url.endswith("/") else f"{base_url}/"


def _check_number(option: str, value: object, *, minimum: float, whole: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:  # type: ignore[operator]  # a number, checked first
        kind = "a whole number" if whole else "a number of seconds"
        raise ImproperlyConfigured(
            f"HTTPStorage's {option} must be {kind} ≥ {minimum}, not {value!r}"
        )


def _checked_statuses(statuses: Iterable[int]) -> frozenset[int]:
    checked = frozenset(statuses)
    if any(isinstance(s, bool) or not isinstance(s, int) or not 400 <= s < 500 for s in checked):
        raise ImproperlyConfigured(
            f"HTTPStorage's missing_statuses must be 4xx statuses, not {sorted(checked, key=str)!r}"
        )
    return checked


def _headers(
    headers: Mapping[str, str] | None, basic_auth: str | tuple[str, str] | list[str] | None
) -> dict[str, str]:
    result = dict(headers or {})
    if basic_auth is not None:
        credentials = basic_auth if isinstance(basic_auth, str) else ":".join(basic_auth)
        token = base64.b64encode(credentials.encode()).decode("ascii")
        result["Authorization"] = f"Basic {token}"
    return result


def _require_urllib3() -> None:
    try:
        import urllib3
    except ImportError as exc:
        raise ImproperlyConfigured(
            "HTTPStorage needs urllib3: pip install 'storage-mixins[http]'"
        ) from exc
    if not hasattr(urllib3, "BaseHTTPResponse"):  # new in urllib3 2
        raise ImproperlyConfigured(
            "HTTPStorage needs urllib3 2 or later: pip install 'storage-mixins[http]'"
        )


def is_http(backend: object) -> bool:
    """Whether ``backend`` is an :class:`HTTPStorage` (a raw backend: by
    ``type()``, as a wrapper proxies the class of what it wraps)."""
    return issubclass(type(backend), HTTPStorage)
