"""Reading a file's bytes in chunks, without holding the whole file in memory.

``Storage.open(name).chunks()`` streams for most backends, but django-storages'
``S3File`` first downloads the whole object into a spooled temporary file that,
by default (``max_memory_size=0``), never leaves memory. For S3 the bytes are
therefore streamed from boto3's response body instead, whose headers also give
the size and modification time without another request.

Every read of an S3 object's bytes goes through :func:`open_s3_bytes`, which
gives what the backend's own ``open()`` gives: an object stored with
``Content-Encoding: gzip`` is decoded when the backend has ``gzip=True`` (as
``S3File`` does), and a file read with several requests (seeks) is pinned to
the version its first request got (``If-Match`` its ETag): a read that would
mix two versions raises :class:`~storage_mixins.errors.FileChangedError`.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import gzip
import io
import os
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, NoReturn, Self, cast

from django.core.files import File
from django.core.files.storage import Storage

from .base import StorageWrapper
from .errors import FileChangedError
from .fallback import Fallback
from .local_files import FileIdentity, Modes, Taken, make_directories, write_atomically
from .readonly import ReadOnly, ReadOnlyFile

__all__ = [
    "CHUNK_SIZE",
    "S3Bytes",
    "Stream",
    "copy_file",
    "decodes_gzip",
    "is_s3",
    "local_path",
    "open_s3_bytes",
    "open_s3_file",
    "open_stream",
    "open_streamed",
    "read_decoded",
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
    return _serving_path(storage, name)[-1]


def _serving_path(storage: Storage, name: str) -> list[Storage]:
    """``storage``, the wrappers and layers that reads of ``name`` go through,
    and last the unwrapped backend they reach."""
    path = [storage]
    while isinstance(storage, StorageWrapper):
        if isinstance(storage, Fallback):
            layer = storage.which(name)
            if layer is None:
                return path  # let open() raise its own FileNotFoundError
            storage = layer
        else:
            storage = storage.__wrapped__
        path.append(storage)
    return path


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

    def file_name(self, backend: Any) -> str:
        """The name ``S3File`` gives itself: the key, less the backend's ``location``."""
        return self.key[len(backend.location) :].lstrip("/")


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


def decodes_gzip(backend: object) -> bool:
    """Whether ``backend``'s ``open()`` decodes objects stored with
    ``Content-Encoding: gzip``: django-storages' ``S3File`` does when its
    storage has ``gzip=True`` (``AWS_IS_GZIPPED``), whatever the content type."""
    return is_s3(backend) and bool(getattr(backend, "gzip", False))


def read_decoded(backend: Any, name: str) -> bool:
    """Whether ``backend.open(name)`` decodes the bytes stored for ``name``: then
    the object's size and ETag (a listing's, ``size()``) are the stored bytes',
    not those of the bytes read. One HEAD, sent for a backend that decodes only."""
    if not decodes_gzip(backend):
        return False
    s3_object = _s3_object(backend, name)
    response = _s3_call(
        s3_object.client.head_object, name, Bucket=s3_object.bucket, Key=s3_object.key,
        **s3_object.parameters,
    )  # fmt: skip
    return _is_decoded(backend, response)


def _is_decoded(backend: Any, response: dict[str, Any]) -> bool:
    # S3File's test, on the object's headers: a gzip backend and a gzip encoding.
    return decodes_gzip(backend) and response.get("ContentEncoding") == "gzip"


def _s3_get(s3_object: _S3Object, name: str, **arguments: Any) -> Any:
    return _s3_call(
        s3_object.client.get_object, name, Bucket=s3_object.bucket, Key=s3_object.key,
        **s3_object.parameters, **arguments,
    )  # fmt: skip


def _s3_call(method: Callable[..., Any], name: str, **arguments: Any) -> Any:
    """``method(**arguments)``; a 404 raises ``FileNotFoundError``, as ``S3Storage`` does."""
    from botocore.exceptions import ClientError

    try:
        return method(**arguments)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise FileNotFoundError(f"File does not exist: {name}") from exc
        raise


@dataclass
class S3Bytes:
    """An S3 object being read: ``file`` gives its bytes as the backend's
    ``open()`` does; ``reader`` reads the stored bytes under it (its
    ``size``, ``modified``, ``etag``: the stored object's)."""

    file: io.BufferedIOBase
    reader: _S3Reader

    def close(self) -> None:
        self.file.close()  # a GzipFile leaves the file it decodes open
        self.reader.close()


def open_s3_bytes(backend: Any, name: str, buffer_size: int) -> S3Bytes:
    """Start reading ``name`` of the ``S3Storage`` ``backend``: one GET, which
    raises ``FileNotFoundError`` for a missing object.

    The bytes are those ``S3File`` gives: decoded as it does (``GzipFile``)
    for an object stored with ``Content-Encoding: gzip`` when the backend has
    ``gzip=True``, and as stored otherwise. A seek drops the response, and the
    next read asks for the rest of the same version (see :class:`_S3Reader`).
    At most ``buffer_size`` bytes are held (and a gzip decoder's window).
    """
    s3_object = _s3_object(backend, name)
    response = _s3_get(s3_object, name)
    reader = _S3Reader(s3_object, name, response)
    buffered = io.BufferedReader(reader, buffer_size)
    if _is_decoded(backend, response):
        return S3Bytes(gzip.GzipFile(fileobj=buffered, mode="rb"), reader)
    return S3Bytes(buffered, reader)


def _s3_stream(backend: Any, name: str, chunk_size: int) -> Stream:  # an S3Storage
    read = open_s3_bytes(backend, name, chunk_size)

    def chunks() -> Iterator[bytes]:
        with contextlib.closing(read):
            while chunk := read.file.read(chunk_size):
                yield chunk

    return Stream(chunks(), modified=read.reader.modified)


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


def open_streamed(storage: Storage, name: str) -> File[bytes] | None:
    """``storage.open(name, "rb")`` in bounded memory where the read reaches an
    ``S3Storage`` (:func:`open_s3_file`), in the ``ReadOnlyFile`` of each
    ``ReadOnly`` on the way, as their own ``open()`` wraps the ``S3File``;
    ``None`` where the read reaches another backend."""
    path = _serving_path(storage, name)
    if not is_s3(path[-1]):
        return None
    file: File[bytes] = open_s3_file(path[-1], name)
    for layer in reversed(path[:-1]):
        if issubclass(type(layer), ReadOnly):  # a ReadOnly, not a proxy of one
            file = ReadOnlyFile(file, layer, name)
    return file


def open_s3_file(backend: Any, name: str, buffer_size: int = 64 * 1024) -> File[bytes]:
    """Open ``name`` of an ``S3Storage`` for reading, in bounded memory.

    ``S3File`` downloads the whole object into memory on its first read (its
    ``max_memory_size`` defaults to 0: never spilled to disk). This file
    reads the response body as it goes instead (:func:`open_s3_bytes`),
    holding at most ``buffer_size`` bytes, and seeks with ranged GETs: one
    request to open (which raises ``FileNotFoundError`` for a missing object,
    as ``open()`` does), one more per seek that is followed by a read.
    """
    return _StreamedFile(backend, name, buffer_size)


if TYPE_CHECKING:
    _BytesFile = File[bytes]  # File is generic to django-stubs only
else:
    _BytesFile = File


class _StreamedFile(_BytesFile):
    """A ``File`` over :func:`open_s3_bytes`, standing for the ``S3File`` that
    ``open(name, "rb")`` of the backend gives: its ``name``, ``size`` (the
    stored object's), ``repr``, no ``mode`` (``S3File`` has none), and
    ``write`` raising ``AttributeError``. Reopened from S3 once closed
    (``File.open()`` would look for ``name`` on the local disk)."""

    name: str  # always given

    def __init__(self, backend: Any, name: str, buffer_size: int) -> None:
        # Not File.__init__: it would copy the mode of a GzipFile.
        self._backend = backend
        self._storage_name = name
        self._buffer_size = buffer_size
        self._read(open_s3_bytes(backend, name, buffer_size))
        self.name = self._bytes.reader.s3_object.file_name(backend)

    def _read(self, read: S3Bytes) -> None:
        self._bytes = read
        self.file = cast("IO[bytes]", read.file)  # a BufferedReader or a GzipFile
        self.size = read.reader.size

    def __repr__(self) -> str:
        return f"<S3File: {self}>"

    def write(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AttributeError("File was not opened in write mode.")  # as S3File

    def close(self) -> None:
        self._bytes.close()

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> Self:
        if mode not in (None, "rb"):
            raise ValueError(f"{self.name!r} is streamed from S3, for reading only")
        if self.closed:
            self._read(open_s3_bytes(self._backend, self._storage_name, self._buffer_size))
        else:
            self.seek(0)
        return self


class _S3Reader(io.RawIOBase):
    """The stored bytes of one version of an S3 object, read from the response
    body as they come; a seek drops the body, and the next read asks for the
    rest from there, of the same version: ``If-Match`` the first response's
    ETag, which the answer must carry too (a server may ignore ``If-Match``).
    Another version, or none, raises :class:`FileChangedError`: the bytes of
    two versions are never mixed. (``VersionId`` would pin a version too, but
    needs ``s3:GetObjectVersion``, which a read-only policy may not grant.)"""

    def __init__(self, s3_object: _S3Object, name: str, response: Any) -> None:
        super().__init__()
        self.s3_object = s3_object
        self._name = name
        self.size = int(response["ContentLength"])
        self.modified: datetime.datetime | None = response.get("LastModified")
        self.etag: str | None = response.get("ETag")
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
            self._body = self._rest()
        data = self._body.read(len(buffer))
        if not data:
            raise OSError(f"S3 ended {self._name!r} at byte {self._position} of {self.size}")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def _rest(self) -> Any:
        """The body of the object from the current position, of this version."""
        from botocore.exceptions import ClientError

        pinned = {} if self.etag is None else {"IfMatch": self.etag}
        try:
            response = _s3_get(
                self.s3_object, self._name, Range=f"bytes={self._position}-", **pinned
            )
        except FileNotFoundError as exc:
            raise FileChangedError(self._name, "it was deleted; open it again") from exc
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 412:
                raise
            raise FileChangedError(self._name, self._replaced()) from exc
        if response.get("ETag") != self.etag:
            response["Body"].close()
            raise FileChangedError(self._name, self._replaced())
        return response["Body"]

    def _replaced(self) -> str:
        return f"it is no longer the version with ETag {self.etag}; open it again"

    def close(self) -> None:
        self._drop_body()
        super().close()

    def _drop_body(self) -> None:
        if self._body is not None:
            body, self._body = self._body, None
            body.close()
