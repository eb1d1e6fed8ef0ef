"""Reading a file's bytes in chunks, without holding the whole file in memory.

``Storage.open(name).chunks()`` streams for most backends, but django-storages'
``S3File`` first downloads the whole object into a spooled temporary file that,
by default (``max_memory_size=0``), never leaves memory. For S3 the bytes are
therefore streamed from boto3's response body instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .base import StorageWrapper
from .fallback import Fallback

__all__ = ["CHUNK_SIZE", "iter_chunks"]

CHUNK_SIZE = 1024 * 1024


def iter_chunks(storage: Any, name: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the bytes of ``name`` in ``storage``, ``chunk_size`` at a time."""
    backend = _backend_serving(storage, name)
    if _is_django_storages_s3(backend):
        yield from _s3_chunks(backend, name, chunk_size)
        return
    with storage.open(name, "rb") as handle:
        yield from handle.chunks(chunk_size)


def _backend_serving(storage: Any, name: str) -> Any:
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


def _is_django_storages_s3(backend: Any) -> bool:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:
        return False
    return isinstance(backend, S3Storage)


def _s3_chunks(backend: Any, name: str, chunk_size: int) -> Iterator[bytes]:
    from botocore.exceptions import ClientError
    from storages.utils import clean_name

    key = backend._normalize_name(clean_name(name))
    try:
        body = backend.bucket.Object(key).get()["Body"]
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise FileNotFoundError(f"File does not exist: {name}") from exc
        raise
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()
