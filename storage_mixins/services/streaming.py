"""Reading a file's bytes in chunks, without holding the whole file in memory,
and copying files between storages so.

``Storage.open(name).chunks()`` streams for most backends, but django-storages'
``S3File`` first downloads the whole object into memory: S3 objects are read
through ``backends.s3.objects`` instead, which gives the same bytes.
``HTTPStorage``'s files stream, and say when they were modified.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files import File
from django.core.files.storage import Storage

from ..backends.http import is_http
from ..backends.local import local_path, new_local_path
from ..backends.local_files import FileIdentity, Modes, Taken, write_atomically
from ..backends.s3.client import is_s3
from ..backends.s3.objects import open_s3_bytes, open_s3_file
from ..core.stack import is_router, is_wrapper

__all__ = [
    "CHUNK_SIZE",
    "Stream",
    "copy_file",
    "open_stream",
    "open_streamed",
    "serving_backend",
]

CHUNK_SIZE = 1024 * 1024


@dataclass
class Stream:
    """A file being read: its chunks, and what is known of it without asking again."""

    chunks: Iterator[bytes]
    modified: datetime.datetime | None = None


def open_stream(
    storage: Storage,
    name: str,
    backend: Storage | None = None,
    chunk_size: int = CHUNK_SIZE,
    *,
    through: bool = False,
) -> Stream:
    """Start reading ``name`` through ``storage``, ``chunk_size`` bytes at a time.

    ``backend`` is :func:`serving_backend`'s answer, if the caller has it already.
    An S3 object is streamed from the backend directly, unless ``through``:
    then through ``storage``'s own ``open`` (whose circuit breakers a read
    must go through, in a ``Fallback(..., on_error="skip")``).
    """
    if backend is None:
        backend = serving_backend(storage, name)
    if is_s3(backend) and not through:
        return _s3_stream(backend, name, chunk_size)
    if is_http(backend):
        return _http_stream(storage, name, chunk_size)
    return Stream(_file_chunks(storage, name, chunk_size))


def serving_backend(storage: Storage, name: str) -> Storage:
    """The unwrapped backend that reads of ``name`` through ``storage`` reach."""
    return _serving_path(storage, name)[-1]


def _serving_path(storage: Any, name: str) -> list[Storage]:
    """``storage``, the wrappers and layers that reads of ``name`` go through,
    and last the unwrapped backend they reach."""
    path = [storage]
    while is_wrapper(storage):
        if is_router(storage):
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


def _http_stream(storage: Storage, name: str, chunk_size: int) -> Stream:
    """An ``HTTPStorage``'s file streams itself: opened now, its first answer
    says when it was modified (no ``HEAD`` for it)."""
    handle = storage.open(name, "rb")

    def chunks() -> Iterator[bytes]:
        with handle:
            yield from handle.chunks(chunk_size)

    return Stream(chunks(), modified=getattr(handle, "modified", None))


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
    only what ``replace`` allows (``storage_mixins.backends.local_files``: otherwise
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
    destination = local_path(serving_backend(target, name), name) or new_local_path(target, name)
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
        if is_wrapper(layer):
            file = layer.wrap_opened(file, name)  # type: ignore[attr-defined]  # a wrapper's
    return file
