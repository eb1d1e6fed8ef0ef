"""django-storages' ``S3Storage``: which storages are S3, and the one client
they share between threads.

``storages.backends.s3`` is looked up in ``sys.modules``, never imported:
without boto3, importing it raises ``ImproperlyConfigured``, and an
``S3Storage`` can only exist once it is imported.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import http_status

__all__ = [
    "call",
    "client_made",
    "is_s3",
    "s3_client",
    "s3_storage_class",
    "shared_clients",
    "watch_clients",
]

#: Called with each client :func:`s3_client` makes, and its backend; set by
#: ``storage_mixins.observability``, which counts requests.
client_made: Callable[[Any, Any], None] | None = None


def is_s3(backend: object) -> bool:
    """Whether ``backend`` is django-storages' ``S3Storage``."""
    # Looked up, never imported: without boto3, importing storages.backends.s3
    # raises ImproperlyConfigured, and an S3Storage can only exist once it is.
    s3 = sys.modules.get("storages.backends.s3")
    return s3 is not None and isinstance(backend, s3.S3Storage)


_clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_clients_lock = threading.Lock()


def s3_storage_class() -> type | None:
    """django-storages' ``S3Storage``, if it is imported."""
    s3 = sys.modules.get("storages.backends.s3")
    return None if s3 is None else s3.S3Storage


def s3_client(backend: Any) -> Any:
    """The boto3 client of an ``S3Storage``, one for every thread.

    django-storages builds a boto3 session and resource for each thread
    (``backend.connection``), since resources and sessions are not
    thread-safe; each costs tens of milliseconds and about 10 MiB. boto3's
    clients are thread-safe, so the client of the first thread's connection
    serves them all. It has the backend's configuration: its connection pool
    holds ``client_config.max_pool_connections`` (10 by default) connections.
    Its requests count in recordings (``storage_mixins.observability``),
    whichever thread made it: see :data:`client_made`.
    """
    with _clients_lock:
        client = _clients.get(backend)
        if client is None:
            client = _clients[backend] = backend.connection.meta.client
            # The thread that made it may never record: the connection it came
            # from is that thread's, which a recording elsewhere cannot reach.
            if client_made is not None:
                client_made(client, backend)
    return client


def shared_clients() -> Iterator[tuple[Any, Any]]:
    """``(backend, client)`` for each client :func:`s3_client` has made, and
    that is still in use."""
    with _clients_lock:
        clients = list(_clients.items())
    yield from clients


def call(method: Callable[..., Any], name: str, **arguments: Any) -> Any:
    """``method(**arguments)``; a 404 raises ``FileNotFoundError``, as ``S3Storage`` does."""
    from botocore.exceptions import ClientError

    try:
        return method(**arguments)
    except ClientError as exc:
        if http_status(exc) == 404:
            raise FileNotFoundError(f"File does not exist: {name}") from exc
        raise


def watch_clients(storage: Any, on_client: Callable[[Any], None]) -> None:
    """Call ``on_client`` with every boto3 client ``storage`` (an ``S3Storage``)
    has, and will make, in any thread: its per-thread connections' and its
    shared bucket's. (django-storages keeps them in private attributes:
    ``_connections``, ``_unsigned_connections``, ``_bucket``.)"""
    for attribute in ("_connections", "_unsigned_connections"):
        connections = storage.__dict__.get(attribute)
        if connections is not None and type(connections) is not _WatchedConnections:
            setattr(storage, attribute, _WatchedConnections(connections, on_client))
    bucket = storage.__dict__.get("_bucket")  # shared by threads: made by one of them
    if bucket is not None:
        on_client(bucket.meta.client)


class _WatchedConnections(threading.local):
    """An ``S3Storage``'s per-thread connections, each of whose clients is shown
    to ``on_client``.

    It replaces the storage's ``threading.local``; in each thread, the
    connection that thread already had is taken over (``__init__`` runs once a
    thread), and a new one is shown when django-storages creates it.
    """

    def __init__(self, previous: threading.local, on_client: Callable[[Any], None]) -> None:
        self.on_client = on_client
        connection = getattr(previous, "connection", None)
        if connection is not None:
            self.connection = connection

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "connection" and value is not None:
            self.on_client(value.meta.client)
        super().__setattr__(name, value)
