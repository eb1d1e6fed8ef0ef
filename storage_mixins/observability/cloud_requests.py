"""Counting Azure's and Google Cloud's requests where their SDKs send them: a
response hook on the HTTP session each storage's client sends through
(``backends.cloud_sdks``), once per response, retries and redirects included,
which is what the server answered.

The sessions of the ``AzureStorage`` and ``GoogleCloudStorage`` instances in
``STORAGES`` are hooked when a recording starts, and those of the stacks
called while something records when they are called, as S3's clients are. A
request counts for the recording active where it is sent (threads and tasks
that copy the context included), and for none outside any.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any

from ..backends.cloud_sdks import cloud_kind, http_session, request_target
from ..core.stack import leaves
from .context import current_state

__all__ = ["hook_cloud_storage", "hook_configured_cloud_storages", "is_counted"]

_lock = threading.Lock()
_hooked_sessions: weakref.WeakSet[Any] = weakref.WeakSet()
_counted: weakref.WeakSet[Any] = weakref.WeakSet()  # storages counted at the source
_no_client: weakref.WeakSet[Any] = weakref.WeakSet()  # found no credentials: not asked again


def is_counted(backend: object) -> bool:
    """Whether ``backend``'s requests are counted where its SDK sends them."""
    return cloud_kind(backend) is not None and backend in _counted


def hook_cloud_storage(storage: Any) -> None:
    """Count the requests of ``storage``, if it is an Azure or Google Cloud
    storage (anything else is left alone)."""
    kind = cloud_kind(storage)
    if kind is None or storage in _no_client:
        return
    session = http_session(storage, kind)
    if session is None:
        _no_client.add(storage)
        return
    with _lock:
        if session not in _hooked_sessions:
            session.hooks["response"].append(_counter(kind, storage))
            _hooked_sessions.add(session)
        _counted.add(storage)


def _counter(kind: str, storage: Any) -> Any:
    owner = weakref.ref(storage)  # the session is the storage's: no cycle through it

    def count(response: Any, *args: Any, **kwargs: Any) -> None:
        """requests' ``response`` hook: one response from the server."""
        state = current_state()
        if state is None:
            return
        request, backend = response.request, owner()
        target = request_target(kind, backend, request.url)
        state.backend_request(kind, request.method, target, backend)

    return count


def hook_configured_cloud_storages() -> None:
    """Count the requests of the Azure and Google Cloud storages Django has
    built from ``STORAGES``, wrapped or not (done when a recording starts)."""
    if not {"storages.backends.azure_storage", "storages.backends.gcloud"} & sys.modules.keys():
        return
    from django.core.files.storage import storages

    for storage in list(getattr(storages, "_storages", {}).values()):
        for leaf in leaves(storage):
            hook_cloud_storage(leaf)
