"""django-storages' Azure and Google Cloud backends, as their SDKs send
requests: which storages are theirs, the HTTP session each storage's client
sends through, and the key a request is about.

Both SDKs send through a ``requests.Session``. azure-core's default transport
(``RequestsTransport``) is the last node of a client's pipeline, and every
client derived from an ``AzureStorage``'s service client (its container
client, the blob clients made per call) sends through that one transport. A
google-cloud-storage ``Client`` sends every request, media included, through
its authorized session (``Client._http``). The backends' modules are looked up
in ``sys.modules``, never imported: a storage of theirs can only exist once
they are.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["AZURE", "GCS", "cloud_kind", "http_session", "request_target"]

AZURE = "Azure"
GCS = "GCS"


def cloud_kind(backend: object) -> str | None:
    """:data:`AZURE` or :data:`GCS` for django-storages' ``AzureStorage`` or
    ``GoogleCloudStorage``, else ``None``."""
    azure = sys.modules.get("storages.backends.azure_storage")
    if azure is not None and isinstance(backend, azure.AzureStorage):
        return AZURE
    gcloud = sys.modules.get("storages.backends.gcloud")
    if gcloud is not None and isinstance(backend, gcloud.GoogleCloudStorage):
        return GCS
    return None


def http_session(backend: Any, kind: str) -> Any:
    """The ``requests.Session`` that ``backend``'s SDK client sends through.

    The client is made as the storage makes it on first use, which sends
    nothing (a Google Cloud storage without credentials of its own looks for
    the environment's then). ``None`` if the client cannot be made because no
    credentials were found, or its transport is not one over ``requests``.
    """
    if kind == AZURE:
        transport = backend.service_client._pipeline._transport  # azure-core: the last node
        if getattr(transport, "session", False) is None:
            transport.open()  # RequestsTransport makes its session when first opened
        return getattr(transport, "session", None)
    from google.auth.exceptions import DefaultCredentialsError

    try:
        client = backend.client
    except DefaultCredentialsError:
        return None  # the storage cannot send anything either
    return client._http


def request_target(kind: str, backend: Any, url: str) -> str:
    """The key a request to ``url`` is about, a listing's prefix, or else the
    URL's path (a Google Cloud upload names its object in the body)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "prefix" in query:
        return query["prefix"][0]
    if kind == AZURE:  # /<account>/<container>/<blob> (Azurite), /<container>/<blob>
        segments = parts.path.split("/")
        container = getattr(backend, "azure_container", None)
        if container in segments:
            blob = "/".join(segments[segments.index(container) + 1 :])
            if blob or query.get("comp") == ["list"]:
                return unquote(blob)
    else:  # /storage/v1/b/<bucket>/o/<object, quoted>, /download/..., ?name= (uploads)
        _, found, name = parts.path.partition("/o/")
        if found:
            return unquote(name)
        if "name" in query:
            return query["name"][0]
        if parts.path.endswith("/o") and "uploadType" not in query:
            return ""  # a listing of the whole bucket
    return unquote(parts.path)
