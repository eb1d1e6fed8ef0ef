"""What an HTTP answer says of a file, and how long ``HTTPStorage`` reuses it.

An answer to ``HEAD`` (or the first ``GET`` of a read) gives the file's size
(``Content-Length``, or the total of ``Content-Range``), its modification time
(``Last-Modified``) and its ``ETag``: :class:`Facts`. :class:`FactsMemo`
keeps each name's last answer, found or missing, for a few seconds, so that
the reads a page makes of one file in a row (``exists``, ``size``,
``get_modified_time``, then ``open``) cost one request, not one each. It is
no cache: ``Caching`` is (it keeps facts for minutes, shared between
processes); this only joins the reads of one moment.
"""

from __future__ import annotations

import datetime
import email.utils
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Facts", "FactsMemo", "parse_facts", "total_of_range"]

_CONTENT_RANGE_TOTAL = re.compile(r"bytes\s+(?:\d+-\d+|\*)/(\d+)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Facts:
    """A file, as one answer describes it: ``size`` in bytes, ``modified`` (an
    aware UTC datetime) and ``etag`` (as sent, quotes included), each ``None``
    where the answer does not say; ``content_type`` as sent, or ``""``."""

    size: int | None
    modified: datetime.datetime | None
    etag: str | None
    content_type: str = ""

    @property
    def strong_etag(self) -> str | None:
        """The ``ETag`` if it is a strong one (``If-Match`` compares only those)."""
        etag = self.etag
        return etag if etag and not etag.startswith("W/") else None


def parse_facts(headers: Mapping[str, str], status: int) -> Facts:
    """The :class:`Facts` of an answer's ``headers``: a ``206`` (or ``416``)
    gives the whole file's size in ``Content-Range``, a ``200`` in
    ``Content-Length``. A body with a ``Content-Encoding`` (an S3 object
    stored gzipped) is read as sent, undecoded: that is its size too."""
    size: int | None = None
    if status in (206, 416):
        size = total_of_range(headers.get("Content-Range", ""))
    else:
        size = _natural(headers.get("Content-Length"))
    return Facts(
        size=size,
        modified=_http_date(headers.get("Last-Modified")),
        etag=headers.get("ETag") or None,
        content_type=headers.get("Content-Type", ""),
    )


def total_of_range(content_range: str) -> int | None:
    """The file's size in a ``Content-Range`` header (``bytes 0-9/1234``), or ``None``."""
    match = _CONTENT_RANGE_TOTAL.match(content_range.strip())
    return int(match.group(1)) if match else None


def _natural(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _http_date(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # a date no server should send: as if it sent none
    if parsed.tzinfo is None:  # "-0000": UTC, says RFC 5322
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


class FactsMemo:
    """Each name's last answer (its :class:`Facts`, or ``None`` for a missing
    file) for ``seconds``, at most ``size`` names, thread-safe. ``seconds`` 0
    keeps nothing."""

    def __init__(self, seconds: float, size: int = 1024) -> None:
        self.seconds = seconds
        self.size = size
        self._answers: OrderedDict[str, tuple[float, Facts | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[bool, Facts | None]:
        """``(True, facts)`` while ``name``'s last answer is fresh, else ``(False, None)``."""
        with self._lock:
            kept = self._answers.get(name)
            if kept is None:
                return False, None
            if kept[0] <= time.monotonic():
                del self._answers[name]
                return False, None
            return True, kept[1]

    def put(self, name: str, facts: Facts | None) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._answers[name] = (time.monotonic() + self.seconds, facts)
            self._answers.move_to_end(name)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)

    def forget(self, name: str) -> None:
        with self._lock:
            self._answers.pop(name, None)

    # A memo holds a lock: copies and pickles start empty.
    def __getstate__(self) -> dict[str, float]:
        return {"seconds": self.seconds, "size": self.size}

    def __setstate__(self, state: dict[str, float]) -> None:
        self.seconds = state["seconds"]
        self.size = int(state["size"])
        self._answers = OrderedDict()
        self._lock = threading.Lock()
