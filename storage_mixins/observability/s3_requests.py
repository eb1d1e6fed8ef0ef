"""Counting S3 requests where botocore sends them: once per HTTP attempt,
retries included, which is what the S3 server receives.

A ``before-send`` handler is registered on the clients of every ``S3Storage``
in ``STORAGES`` and in the stacks called while something records, and on the
client that listings and streamed reads share
(``backends.s3.client.s3_client``), whichever thread made it. A request counts
for the recording active where it is sent (or carried into boto3's transfer
threads: see ``context``), and for none outside any. A
``before-parameter-build`` handler notes the key each API call is about (a
listing's prefix), for the recording's details.

A storage may send requests while it is built, before any client of its can be
hooked (``S3ManifestStaticStorage`` reads its manifest then): the clients of
every botocore session made once something has recorded get the handlers too,
from botocore's own list of the handlers each new session registers (as moto
adds its own). Those know no storage; a client hooked both ways counts each
request once. The first recording imports botocore if it is installed, so that
a storage first built inside it is counted too, whichever test runs first.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any
from urllib.parse import unquote, urlsplit

from ..backends.s3 import client as s3
from ..core.stack import leaves
from .context import current_state

__all__ = [
    "count_s3_requests",
    "hook_configured_storages",
    "hook_new_sessions",
    "hook_s3_storage",
    "hook_shared_clients",
]

_HANDLER_ID = "storage_mixins-count-requests"
_TARGET_ID = "storage_mixins-note-target"
_TARGET = "storage_mixins_target"  # in botocore's request context
_COUNTED = "_storage_mixins_counted"  # on a request (an attempt) once counted
_hooked_emitters: weakref.WeakSet[Any] = weakref.WeakSet()
_sessions_lock = threading.Lock()
_sessions_hooked = False  # botocore's handlers of new sessions include ours


def count_s3_requests(client: Any, storage: Any = None) -> None:
    """Count the requests ``client`` (a boto3 S3 client) sends for the recording
    active where each is sent, from now on; outside any, they count for none.
    ``storage`` is the ``S3Storage`` whose client it is, if any (details name it)."""
    events = client.meta.events
    if events not in _hooked_emitters:
        events.register("before-parameter-build.s3", _note_target, unique_id=_TARGET_ID)
        # First: before the handler of new sessions, which knows no storage.
        events.register_first("before-send.s3", _counter(storage), unique_id=_HANDLER_ID)
        _hooked_emitters.add(events)


def _note_target(params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
    """botocore ``before-parameter-build`` handler: the key an API call is about."""
    context[_TARGET] = params.get("Key") or params.get("Prefix") or ""


def _counter(storage: Any) -> Any:
    # A weak reference: the storage's shared client is kept in a weak mapping
    # keyed by the storage, which a strong one would keep alive forever.
    owner = None if storage is None else weakref.ref(storage)

    def count(request: Any, event_name: str, **kwargs: Any) -> None:
        """botocore ``before-send`` handler: one HTTP attempt to S3."""
        state = current_state()
        if state is None or getattr(request, _COUNTED, False):
            return
        setattr(request, _COUNTED, True)  # a new request object each attempt
        target = (getattr(request, "context", None) or {}).get(_TARGET)
        if target is None:  # a call that began before the client was hooked
            target = unquote(urlsplit(request.url).path).lstrip("/")
        operation = event_name.rpartition(".")[2]
        state.backend_request("S3", request.method, target, owner and owner(), operation)

    return count


_count_unattributed = _counter(None)


def hook_new_sessions() -> None:
    """Count the requests of the clients of every botocore session made from
    now on (if botocore is installed). Done once a process: the first
    recording's install, which every later one would repeat for nothing."""
    global _sessions_hooked
    if _sessions_hooked:
        return
    with _sessions_lock:
        if _sessions_hooked:
            return
        _sessions_hooked = True
        try:
            from botocore import handlers
        except ImportError:
            return  # no botocore: no S3 client can ever exist
        handlers.BUILTIN_HANDLERS.extend(
            [("before-parameter-build.s3", _note_target), ("before-send.s3", _count_unattributed)]
        )


def hook_s3_storage(storage: Any) -> None:
    """Count the requests of every client of ``storage`` (an ``S3Storage``)."""
    s3.watch_clients(storage, lambda client: count_s3_requests(client, storage))


def hook_shared_clients() -> None:
    """Count the requests of the shared clients, made now and from now on."""
    s3.client_made = count_s3_requests
    for backend, client in s3.shared_clients():
        count_s3_requests(client, backend)


def hook_configured_storages() -> None:
    """Count the requests of the S3 storages Django has built from ``STORAGES``,
    wrapped or not (done when a recording starts)."""
    if "storages.backends.s3" not in sys.modules:
        return
    from django.core.files.storage import storages

    for storage in list(getattr(storages, "_storages", {}).values()):
        for leaf in leaves(storage):
            if s3.is_s3(leaf):
                hook_s3_storage(leaf)
