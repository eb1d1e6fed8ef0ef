"""Reading a file's bytes in chunks, without holding the whole file in memory.

``Storage.open(name).chunks()`` streams for most backends, but django-storages'
``S3File`` first downloads the whole object into a spooled temporary file that,
by default (``max_memory_size=0``), never leaves memory. For S3 the bytes are
therefore streamed from boto3's response body instead, whose headers also give
the size and modification time without another request.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import io
import os
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from django.core.files import File
from django.core.files.storage import Storage

from .base import StorageWrapper
from .fallback import Fallback
from .local_files import FileIdentity, Modes, Taken, make_directories, write_atomically

__all__ = [
    "CHUNK_SIZE",
    "Stream",
    "copy_file",
    "is_s3",
    "local_path",
    "open_s3_file",
    "open_stream",
    "serving_backend",
    "write_atomically",
]

CHUNK_SIZE = 1024 * 1024


@dataclass
class Stream:
    """A file being read: its chunks, and what is known of it without asking again."""

    chunks: Iterator[bytes]
    modified: datetime.datetime | None = None


def open_stream(
    storage: Storage, name: str, backend: Storage | None = None, chunk_size: int = CHUNK_SIZE
) -> Stream:
    """Start reading ``name`` through ``storage``, ``chunk_size`` bytes at a time.

    ``backend`` is :func:`serving_backend`'s answer, if the caller has it already.
    """
    if backend is None:
        backend = serving_backend(storage, name)
    if is_s3(backend):
        return _s3_stream(backend, name, chunk_size)
    return Stream(_file_chunks(storage, name, chunk_size))


def local_path(backend: Storage, name: str) -> str | None:
    """The path of ``name`` if ``backend`` (see :func:`serving_backend`) keeps it
    on local disk."""
    try:
        path = backend.path(name)
    except (NotImplementedError, AttributeError):
        return None
    return path if os.path.isfile(path) else None


def serving_backend(storage: Storage, name: str) -> Storage:
    """The unwrapped backend that reads of ``name`` through ``storage`` reach."""
    while isinstance(storage, StorageWrapper):
        if isinstance(storage, Fallback):
            layer = storage.which(name)
            if layer is None:
                return storage  # let open() raise its own FileNotFoundError
            storage = layer
        else:
            storage = storage.__wrapped__
    return storage


def _file_chunks(storage: Storage, name: str, chunk_size: int) -> Iterator[bytes]:
    with storage.open(name, "rb") as handle:
        yield from handle.chunks(chunk_size)


def is_s3(backend: object) -> bool:
    """Whether ``backend`` is django-storages' ``S3Storage``."""
    # Looked up, never imported: without boto3, importing storages.backends.s3
    # raises ImproperlyConfigured, and an S3Storage can only exist once it is.
    s3 = sys.modules.get("storages.backends.s3")
    return s3 is not None and isinstance(backend, s3.S3Storage)


@dataclass(frozen=True)
class _S3Object:
    """One object of an ``S3Storage``, read through a thread-safe client (the
    backend's ``bucket`` is a boto3 resource, which is not), with the download
    parameters ``S3File`` would use (SSE-C keys…)."""

    client: Any
    bucket: str
    key: str
    parameters: dict[str, Any]


def _s3_object(backend: Any, name: str) -> _S3Object:  # an S3Storage (untyped)
    from s3transfer.constants import ALLOWED_DOWNLOAD_ARGS
    from storages.utils import clean_name

    from .listings import s3_client

    cleaned = clean_name(name)
    parameters = {
        option: value
        for option, value in backend.get_object_parameters(cleaned).items()
        if option in ALLOWED_DOWNLOAD_ARGS
    }
    return _S3Object(
        s3_client(backend), backend.bucket_name, backend._normalize_name(cleaned), parameters
    )


def _s3_get(s3_object: _S3Object, name: str, **arguments: Any) -> Any:
    from botocore.exceptions import ClientError

    try:
        return s3_object.client.get_object(
            Bucket=s3_object.bucket, Key=s3_object.key, **s3_object.parameters, **arguments
        )
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise FileNotFoundError(f"File does not exist: {name}") from exc
        raise


def _s3_stream(backend: Any, name: str, chunk_size: int) -> Stream:  # an S3Storage
    response = _s3_get(_s3_object(backend, name), name)
    body = response["Body"]

    def chunks() -> Iterator[bytes]:
        with contextlib.closing(body):
            yield from body.iter_chunks(chunk_size)

    return Stream(chunks(), modified=response.get("LastModified"))


def copy_file(
    source: Storage,
    target: Storage,
    name: str,
    on_chunk: Callable[[int], None] | None = None,
    *,
    replace: bool | FileIdentity = True,
) -> int:
    """Stream ``name`` from ``source`` into ``target``, never leaving a partial
    file; return the number of bytes copied.

    A local target gets the file atomically, with its modes, and replaces
    only what ``replace`` allows (``storage_mixins.local_files``: otherwise
    ``Taken`` is raised). A remote one gets it through its own ``_save``,
    after a local spool: S3 and the like create objects atomically; there
    ``replace=False`` is checked with ``exists()`` before the save, and a
    :class:`FileIdentity` cannot be checked. ``on_chunk`` is called with the
    size of each chunk read; an exception it raises (to cancel) stops the
    copy, and no file is left behind.
    """
    stream = open_stream(source, name)
    modified = stream.modified.timestamp() if stream.modified else None
    copied = [0]
    destination = local_path(serving_backend(target, name), name) or _new_local_path(target, name)
    with contextlib.closing(_observed(stream.chunks, on_chunk, copied)) as chunks:
        if destination is not None:
            write_atomically(destination, chunks, modified, modes=Modes.of(target), replace=replace)
            return copied[0]
        with tempfile.TemporaryFile() as spool:
            for chunk in chunks:
                spool.write(chunk)
            spool.seek(0)
            if target.exists(name):
                if replace is False:
                    raise Taken(errno.EEXIST, "Created since it was looked at", name)
                target.delete(name)
            target._save(name, File(spool, name=name))  # type: ignore[attr-defined]  # django-stubs lack _save
    return copied[0]


def _observed(
    chunks: Iterator[bytes], on_chunk: Callable[[int], None] | None, copied: list[int]
) -> Generator[bytes]:
    """``chunks``, counted into ``copied[0]`` and shown to ``on_chunk``; closing
    it closes ``chunks`` (and so the response it reads from)."""
    try:
        for chunk in chunks:
            if on_chunk is not None:
                on_chunk(len(chunk))
            copied[0] += len(chunk)
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def make_parent_directory(storage: Storage, name: str) -> None:
    """Create the directory of ``name`` in a local ``storage``, as its ``_save``
    would (honouring ``directory_permissions_mode``); a remote one needs none."""
    path = _new_local_path(storage, name)
    if path is not None:
        make_directories(os.path.dirname(path), Modes.of(storage).directory)


def _new_local_path(storage: Storage, name: str) -> str | None:
    try:
        return storage.path(name)
    except (NotImplementedError, AttributeError):
        return None


def open_s3_file(backend: Any, name: str, buffer_size: int = 64 * 1024) -> File[bytes]:
    """Open ``name`` of an ``S3Storage`` for reading, in bounded memory.

    ``S3File`` downloads the whole object into memory on its first read (its
    ``max_memory_size`` defaults to 0: never spilled to disk). This file
    reads the response body as it goes instead, holding at most
    ``buffer_size`` bytes, and seeks with ranged GETs: one request to open
    (which raises ``FileNotFoundError`` for a missing object, as ``open()``
    does), one more per seek that is followed by a read.
    """
    s3_object = _s3_object(backend, name)
    reader = _S3Reader(s3_object, name, _s3_get(s3_object, name))
    return _StreamedFile(reader, name, buffer_size)


if TYPE_CHECKING:
    _BytesFile = File[bytes]  # File is generic to django-stubs only
else:
    _BytesFile = File


class _StreamedFile(_BytesFile):
    """A ``File`` over an :class:`_S3Reader`; reopened from S3 once closed
    (``File.open()`` would look for ``name`` on the local disk)."""

    name: str  # always given

    def __init__(self, reader: _S3Reader, name: str, buffer_size: int) -> None:
        super().__init__(io.BufferedReader(reader, buffer_size), name=name)
        self.mode = "rb"
        self.size = reader.size
        self._reader = reader
        self._buffer_size = buffer_size

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> Self:
        if mode not in (None, "rb"):
            raise ValueError(f"{self.name!r} is streamed from S3, for reading only")
        if self.closed:
            self._reader = _S3Reader(self._reader.s3_object, self.name, None)
            self.file = io.BufferedReader(self._reader, self._buffer_size)
        else:
            self.seek(0)
        return self


class _S3Reader(io.RawIOBase):
    """The bytes of one S3 object, read from the response body as they come;
    a seek drops the body, and the next read asks for the rest from there."""

    def __init__(self, s3_object: _S3Object, name: str, response: Any) -> None:
        super().__init__()
        self.s3_object = s3_object
        self._name = name
        if response is None:
            response = _s3_get(s3_object, name)
        self.size = int(response["ContentLength"])
        self._body: Any = response["Body"]
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size}[whence]
        position = max(0, base + offset)
        if position != self._position:
            self._drop_body()
            self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self.size:
            return 0
        if self._body is None:
            response = _s3_get(self.s3_object, self._name, Range=f"bytes={self._position}-")
            self._body = response["Body"]
        data = self._body.read(len(buffer))
        if not data:
            raise OSError(f"S3 ended {self._name!r} at byte {self._position} of {self.size}")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        self._drop_body()
        super().close()

    def _drop_body(self) -> None:
        if self._body is not None:
            body, self._body = self._body, None
            body.close()
