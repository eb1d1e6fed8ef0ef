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
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .base import StorageWrapper
from .fallback import Fallback

__all__ = [
    "CHUNK_SIZE",
    "Stream",
    "copy_file",
    "local_path",
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
    storage: Any, name: str, backend: Any = None, chunk_size: int = CHUNK_SIZE
) -> Stream:
    """Start reading ``name`` through ``storage``, ``chunk_size`` bytes at a time.

    ``backend`` is :func:`serving_backend`'s answer, if the caller has it already.
    """
    if backend is None:
        backend = serving_backend(storage, name)
    if _is_django_storages_s3(backend):
        return _s3_stream(backend, name, chunk_size)
    return Stream(_file_chunks(storage, name, chunk_size))


def write_atomically(path: str, chunks: Iterator[bytes], modified: float | None = None) -> None:
    """Write ``chunks`` to ``path`` so that no reader ever sees a partial file.

    The bytes go to a temporary file in the same directory, which is renamed
    over ``path`` when complete (``modified`` becomes its modification time); a
    failure or an interruption removes the temporary file.
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    partial = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, or removed
        dir=directory, prefix=".partial-", delete=False
    )
    try:
        with partial:
            for chunk in chunks:
                partial.write(chunk)
        if modified is not None:
            os.utime(partial.name, (modified, modified))
        os.replace(partial.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial.name)
        raise


def local_path(backend: Any, name: str) -> str | None:
    """The path of ``name`` if ``backend`` (see :func:`serving_backend`) keeps it
    on local disk."""
    try:
        path = backend.path(name)
    except (NotImplementedError, AttributeError):
        return None
    return path if os.path.isfile(path) else None


def serving_backend(storage: Any, name: str) -> Any:
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


def _file_chunks(storage: Any, name: str, chunk_size: int) -> Iterator[bytes]:
    with storage.open(name, "rb") as handle:
        yield from handle.chunks(chunk_size)


def _is_django_storages_s3(backend: Any) -> bool:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:
        return False
    return isinstance(backend, S3Storage)


def _s3_stream(backend: Any, name: str, chunk_size: int) -> Stream:
    from botocore.exceptions import ClientError
    from s3transfer.constants import ALLOWED_DOWNLOAD_ARGS
    from storages.utils import clean_name

    from .listings import s3_client

    cleaned = clean_name(name)
    key = backend._normalize_name(cleaned)
    # As S3File reads: the download parameters of the object (SSE-C keys…).
    parameters = {
        option: value
        for option, value in backend.get_object_parameters(cleaned).items()
        if option in ALLOWED_DOWNLOAD_ARGS
    }
    try:
        # A thread-safe client (the backend's ``bucket`` is a resource: not).
        response = s3_client(backend).get_object(Bucket=backend.bucket_name, Key=key, **parameters)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise FileNotFoundError(f"File does not exist: {name}") from exc
        raise
    body = response["Body"]

    def chunks() -> Iterator[bytes]:
        with contextlib.closing(body):
            yield from body.iter_chunks(chunk_size)

    return Stream(chunks(), modified=response.get("LastModified"))


def copy_file(
    source: Any, target: Any, name: str, on_chunk: Callable[[int], None] | None = None
) -> int:
    """Stream ``name`` from ``source`` into ``target``, never leaving a partial
    file; return the number of bytes copied.

    A local target gets the file atomically (temporary file, then rename). A
    remote one gets it through its own ``_save``, after a local spool: S3 and
    the like create objects atomically. ``on_chunk`` is called with the size of
    each chunk read; an exception it raises (to cancel) stops the copy, and no
    file is left behind.
    """
    stream = open_stream(source, name)
    modified = stream.modified.timestamp() if stream.modified else None
    copied = [0]
    destination = local_path(serving_backend(target, name), name) or _new_local_path(target, name)
    with contextlib.closing(_observed(stream.chunks, on_chunk, copied)) as chunks:
        if destination is not None:
            write_atomically(destination, chunks, modified)
            return copied[0]
        from django.core.files import File

        with tempfile.TemporaryFile() as spool:
            for chunk in chunks:
                spool.write(chunk)
            spool.seek(0)
            if target.exists(name):
                target.delete(name)
            target._save(name, File(spool, name=name))
    return copied[0]


def _observed(
    chunks: Iterator[bytes], on_chunk: Callable[[int], None] | None, copied: list[int]
) -> Iterator[bytes]:
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


def make_parent_directory(storage: Any, name: str) -> None:
    """Create the directory of ``name`` in a local ``storage``, as its ``_save``
    would (honouring ``directory_permissions_mode``); a remote one needs none."""
    path = _new_local_path(storage, name)
    if path is None:
        return
    directory = os.path.dirname(path)
    mode = getattr(storage, "directory_permissions_mode", None)
    if mode is None:
        os.makedirs(directory, exist_ok=True)
        return
    old_umask = os.umask(0o777 & ~mode)  # as FileSystemStorage._save does
    try:
        os.makedirs(directory, mode, exist_ok=True)
    finally:
        os.umask(old_umask)


def _new_local_path(storage: Any, name: str) -> str | None:
    try:
        return storage.path(name)
    except (NotImplementedError, AttributeError):
        return None
