"""Reading a file of ``HTTPStorage``: streamed, in bounded memory, with ranged ``GET``s.

``open(name)`` sends one ``GET`` for the first :data:`WINDOW` bytes
(``Range: bytes=0-1048575``), which raises ``FileNotFoundError`` for a
missing file and tells the file's size: reading a video's header does not
download the video. A read that goes on past that window asks for the rest of
the file in one more ``GET``; a ``seek()`` followed by a read asks for a window
from there (so a read at the end costs what it reads). A whole file is two
requests (one, up to a MiB); nothing is held but a buffer of
``buffer_size`` bytes.

Every request after the first is pinned to the version the first one got:
``If-Match`` its strong ``ETag`` (else ``If-Unmodified-Since`` its
``Last-Modified``), and the answer must carry the same ``ETag``. Another
version, or none, raises :class:`~storage_mixins.FileChangedError`: the bytes of
two versions are never mixed. A server that ignores ``Range`` answers the
whole file, which is then read from its start (skipping to the position); a
``206`` whose bytes start elsewhere than asked raises ``OSError``, and an
answer that gives the file another size raises ``FileChangedError`` (a server
that sends neither ``ETag`` nor ``Last-Modified``).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, Self

from django.core.files import File
from django.core.files.storage import Storage

from ...core.errors import FileChangedError, ReadOnlyError
from ...core.modes import is_write_mode
from .answers import Answers
from .client import HTTPClient, discard
from .facts import Facts, parse_facts

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse

    _BytesFile = File[bytes]  # File is generic to django-stubs only
else:
    _BytesFile = File

__all__ = ["WINDOW", "HTTPFile", "RangeReader"]

#: Bytes asked for by the first request of a read, and by the first after a seek.
WINDOW = 1024 * 1024
_SKIP_CHUNK = 64 * 1024
_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/", re.IGNORECASE)


class RangeReader(io.RawIOBase):
    """The bytes of the file ``name`` at ``url``, read from the answers as they
    come (see the module). Built by its first ``GET``: a missing file raises
    ``FileNotFoundError`` here. ``facts`` is what that answer said."""

    def __init__(self, client: HTTPClient, answers: Answers, url: str, name: str) -> None:
        super().__init__()
        self._client = client
        self._answers = answers
        self._url = url
        self._name = name
        self._position = 0
        self._response: BaseHTTPResponse | None = None
        self._window_end: int | None = None  # where the answer's bytes end, if not at the end
        self._bounded = True  # the next request asks for a window, not the rest
        self.facts = Facts(None, None, None)
        self.size: int | None = None
        self._response = self._request(0, first=True)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_END and self.size is None:
            raise OSError(f"{self._url} did not say its size: it cannot be read from its end")
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size or 0}[whence]
        position = max(0, base + offset)
        if position != self._position:
            self._drop()
            self._position = position
            self._bounded = True
        return position

    def readinto(self, buffer: Any) -> int:
        size = self.size
        if size is not None and self._position >= size:
            return 0
        data = self._read(len(buffer))
        if not data and self._window_end is not None and self._position >= self._window_end:
            self._drop()  # the window is read: the rest of the file, in one answer
            self._bounded = False
            data = self._read(len(buffer))
        if not data:
            if size is None:
                return 0  # a body of unknown length ends where it ends
            raise OSError(f"{self._url} ended at byte {self._position} of {size}")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._drop()
        super().close()

    def _read(self, amount: int) -> bytes:
        if self._response is None:
            self._response = self._request(self._position, first=False)
            if self._response is None:
                return b""
        data: bytes = self._response.read(amount)
        return data

    def _drop(self) -> None:
        if self._response is not None:
            response, self._response = self._response, None
            discard(response)

    def _request(self, start: int, *, first: bool) -> BaseHTTPResponse | None:
        """The answer for the bytes from ``start`` (a window of them, or the
        rest), its body unread; ``None`` when there are none (an empty file)."""
        end = f"{start + WINDOW - 1}" if self._bounded else ""
        headers = {"Range": f"bytes={start}-{end}"}
        if not first:
            headers.update(self._validators())
        response = self._client.send("GET", self._url, headers)
        status = response.status
        if not first and (status == 412 or self._answers.is_missing(status)):
            discard(response)
            raise FileChangedError(self._name, self._changed(status))
        if status == 416:  # nothing from start on: the file is empty, or ends before
            facts = parse_facts(response.headers, status)
            discard(response)
            self._check(facts, first)
            if first and self.size is None:
                self.size = 0  # no byte 0: an empty file
            return None
        try:
            found = self._answers.facts(response, self._name, self._url)
        except BaseException:
            discard(response)
            raise
        if found is None:
            discard(response)
            raise FileNotFoundError(2, f"Not found at {self._url}", self._name)
        self._check(found, first)
        answered = _range_of(response)
        if answered is not None and answered[0] != start:
            # Another window than asked for (a broken cache or proxy): read as
            # the bytes asked for, they would corrupt the file silently.
            discard(response)
            raise OSError(f"{self._url} answered bytes {answered[0]}-{answered[1] - 1} "
                          f"when asked for bytes from {start}")  # fmt: skip
        self._window_end = None if answered is None else answered[1]
        if status == 200 and start:  # Range ignored: the whole file, from its start
            _skip(response, start)
        return response

    def _check(self, facts: Facts, first: bool) -> None:
        if first:
            self.facts = facts
            self.size = facts.size
            return
        if self.facts.etag and facts.etag != self.facts.etag:
            raise FileChangedError(self._name, self._changed(200))
        if self.size is not None and facts.size is not None and facts.size != self.size:
            # No validator caught it (the server gives none): another version.
            raise FileChangedError(self._name, f"its size went from {self.size} to "
                                               f"{facts.size} bytes; open it again")  # fmt: skip

    def _validators(self) -> dict[str, str]:
        etag = self.facts.strong_etag
        if etag:
            return {"If-Match": etag}
        modified = self.facts.modified
        if modified is not None:
            return {"If-Unmodified-Since": modified.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        return {}

    def _changed(self, status: int) -> str:
        if self._answers.is_missing(status):
            return "it was deleted; open it again"
        return f"it is no longer the version with ETag {self.facts.etag}; open it again"


def _range_of(response: BaseHTTPResponse) -> tuple[int, int] | None:
    """Where the bytes of a ``206`` answer start, and where they end (exclusive)."""
    if response.status != 206:
        return None
    match = _RANGE.match(response.headers.get("Content-Range", "").strip())
    return (int(match.group(1)), int(match.group(2)) + 1) if match else None


def _skip(response: BaseHTTPResponse, count: int) -> None:
    while count > 0:
        skipped = len(response.read(min(count, _SKIP_CHUNK)))
        if not skipped:
            raise OSError("the answer ended before the position asked for")
        count -= skipped


class HTTPFile(_BytesFile):
    """What ``HTTPStorage.open(name)`` gives: a read-only ``File`` over a
    :class:`RangeReader`, buffered (``buffer_size`` bytes). ``size`` and
    ``modified`` are what the first answer said (``None`` where it did not).
    Writing raises :class:`~storage_mixins.ReadOnlyError`; reopening a closed
    file sends a new first ``GET`` (``File.open()`` would look on the local
    disk)."""

    name: str  # always given

    def __init__(
        self, storage: Storage, name: str, reader: Callable[[], RangeReader], buffer_size: int
    ) -> None:
        # Not File.__init__: there is no local file, and no mode.
        self._storage = storage
        self._new_reader = reader
        self._buffer_size = buffer_size
        self.name = name
        self._start()

    def _start(self) -> None:
        reader = self._new_reader()
        self.reader = reader
        self.file = io.BufferedReader(reader, self._buffer_size)
        self.size = reader.size  # type: ignore[assignment]  # None where the server did not say
        self.modified = reader.facts.modified

    def __repr__(self) -> str:
        return f"<HTTPFile: {self.name}>"

    def write(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlyError("write", self.name, self._storage)

    def writelines(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlyError("writelines", self.name, self._storage)

    def truncate(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlyError("truncate", self.name, self._storage)

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> Self:
        if mode is not None and is_write_mode(mode):
            raise ReadOnlyError("open", self.name, self._storage)
        if self.closed:
            self._start()
        else:
            self.seek(0)
        return self

    def close(self) -> None:
        self.reader.close()
        file = self.file
        if file is not None:
            file.close()
