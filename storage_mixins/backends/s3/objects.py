"""Reading an S3 object's bytes, as django-storages' ``S3File`` gives them, in
bounded memory: the one place that reads a remote object's bytes from S3.

``S3File`` downloads the whole object into a spooled temporary file that, by
default (``max_memory_size=0``), never leaves memory. Here the bytes are read
from boto3's response body as they come instead, whose headers also give the
size and modification time without another request. What is read is what
``S3File`` gives: an object stored with ``Content-Encoding: gzip`` is decoded
when the backend has ``gzip=True``, and a file read with several requests
(seeks) is pinned to the version its first request got (``If-Match`` its
ETag): a read that would mix two versions raises
:class:`~storage_mixins.core.errors.FileChangedError`.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import os
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, NoReturn, Self, cast

from django.core.files import File

from ...core.errors import FileChangedError
from ...core.stack import opened_backend
from ..errors import http_status
from ..listing import own_methods
from .client import call, is_s3, s3_client, s3_storage_class

__all__ = [
    "S3Bytes",
    "S3Object",
    "compressed_md5",
    "decodes_gzip",
    "object_of",
    "open_s3_bytes",
    "open_s3_file",
    "plain_s3_backend",
    "read_decoded",
]

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class S3Object:
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


def object_of(backend: Any, name: str) -> S3Object:  # an S3Storage (untyped)
    from s3transfer.constants import ALLOWED_DOWNLOAD_ARGS
    from storages.utils import clean_name

    cleaned = clean_name(name)
    parameters = {
        option: value
        for option, value in backend.get_object_parameters(cleaned).items()
        if option in ALLOWED_DOWNLOAD_ARGS
    }
    return S3Object(
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
    s3_object = object_of(backend, name)
    response = call(
        s3_object.client.head_object, name, Bucket=s3_object.bucket, Key=s3_object.key,
        **s3_object.parameters,
    )  # fmt: skip
    return is_decoded(backend, response)


def is_decoded(backend: Any, response: dict[str, Any]) -> bool:
    # S3File's test, on the object's headers: a gzip backend and a gzip encoding.
    return decodes_gzip(backend) and response.get("ContentEncoding") == "gzip"


def s3_get(s3_object: S3Object, name: str, **arguments: Any) -> Any:
    return call(
        s3_object.client.get_object, name, Bucket=s3_object.bucket, Key=s3_object.key,
        **s3_object.parameters, **arguments,
    )  # fmt: skip


@dataclass
class S3Bytes:
    """An S3 object being read: ``file`` gives its bytes as the backend's
    ``open()`` does; ``reader`` reads the stored bytes under it (its
    ``size``, ``modified``, ``etag``: the stored object's)."""

    file: io.BufferedIOBase
    reader: S3Reader

    def close(self) -> None:
        self.file.close()  # a GzipFile leaves the file it decodes open
        self.reader.close()


def open_s3_bytes(backend: Any, name: str, buffer_size: int) -> S3Bytes:
    """Start reading ``name`` of the ``S3Storage`` ``backend``: one GET, which
    raises ``FileNotFoundError`` for a missing object.

    The bytes are those ``S3File`` gives: decoded as it does (``GzipFile``)
    for an object stored with ``Content-Encoding: gzip`` when the backend has
    ``gzip=True``, and as stored otherwise. A seek drops the response, and the
    next read asks for the rest of the same version (see :class:`S3Reader`).
    At most ``buffer_size`` bytes are held (and a gzip decoder's window).
    """
    s3_object = object_of(backend, name)
    response = s3_get(s3_object, name)
    reader = S3Reader(s3_object, name, response)
    buffered = io.BufferedReader(reader, buffer_size)
    if is_decoded(backend, response):
        return S3Bytes(gzip.GzipFile(fileobj=buffered, mode="rb"), reader)
    return S3Bytes(buffered, reader)


def open_s3_file(backend: Any, name: str, buffer_size: int = 64 * 1024) -> File[bytes]:
    """Open ``name`` of an ``S3Storage`` for reading, in bounded memory.

    ``S3File`` downloads the whole object into memory on its first read (its
    ``max_memory_size`` defaults to 0: never spilled to disk). This file
    reads the response body as it goes instead (:func:`open_s3_bytes`),
    holding at most ``buffer_size`` bytes, and seeks with ranged GETs: one
    request to open (which raises ``FileNotFoundError`` for a missing object,
    as ``open()`` does), one more per seek that is followed by a read.
    """
    return StreamedFile(backend, name, buffer_size)


if TYPE_CHECKING:
    _BytesFile = File[bytes]  # File is generic to django-stubs only
else:
    _BytesFile = File


class StreamedFile(_BytesFile):
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


class S3Reader(io.RawIOBase):
    """The stored bytes of one version of an S3 object, read from the response
    body as they come; a seek drops the body, and the next read asks for the
    rest from there, of the same version: ``If-Match`` the first response's
    ETag, which the answer must carry too (a server may ignore ``If-Match``).
    Another version, or none, raises :class:`FileChangedError`: the bytes of
    two versions are never mixed. (``VersionId`` would pin a version too, but
    needs ``s3:GetObjectVersion``, which a read-only policy may not grant.)"""

    def __init__(self, s3_object: S3Object, name: str, response: Any) -> None:
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
            response = s3_get(
                self.s3_object, self._name, Range=f"bytes={self._position}-", **pinned
            )
        except FileNotFoundError as exc:
            raise FileChangedError(self._name, "it was deleted; open it again") from exc
        except ClientError as exc:
            if http_status(exc) != 412:
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


def compressed_md5(backend: Any, path: str) -> str:
    """The MD5 of the file at ``path`` compressed as ``backend`` (an
    ``S3Storage``) compresses what it saves: its ETag, if it saved these
    bytes in one part and the same zlib compresses them alike."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        compressed = backend._compress_content(handle)
        while chunk := compressed.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


_OPENS = {"open", "_open"}


def plain_s3_backend(layer: Any) -> Any | None:
    """The ``S3Storage`` under ``layer`` if only ``ReadOnly`` wraps it and it
    keeps django-storages' own ``open`` and ``_open``; otherwise ``None``."""
    storage, _on_the_way = opened_backend(layer)
    s3_storage = s3_storage_class()
    if s3_storage is None or not isinstance(storage, s3_storage):
        return None
    return storage if len(own_methods(storage, s3_storage, _OPENS)) == 2 else None
