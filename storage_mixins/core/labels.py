"""One-line, I/O-free descriptions of storages, for ``repr()`` and error messages."""

from __future__ import annotations

from django.core.files.storage import InMemoryStorage

from .proxy import Proxy

__all__ = ["storage_label"]

# Attributes that say *which* store a backend instance talks to, most specific
# first: S3 / Google Cloud bucket, Azure container, filesystem location, an
# HTTP server's base URL (HTTPStorage's, which holds no credentials).
_IDENTITY_ATTRIBUTES = ("bucket_name", "azure_container", "location", "endpoint_url")


def storage_label(storage: object) -> str:
    """Describe ``storage`` in one line, e.g. ``S3Storage('production-media')``.

    Wrappers describe themselves (their ``repr``); a plain backend is shown as
    its class name and the bucket, container or directory it uses. Reading the
    label never performs I/O.
    """
    if issubclass(type(storage), Proxy):  # a wrapper, or a reader in front of a layer
        return repr(storage)
    cls_name = type(storage).__name__
    if isinstance(storage, InMemoryStorage):
        return f"{cls_name}()"  # its "location" is only a default, not an identity
    for attribute in _IDENTITY_ATTRIBUTES:
        value = getattr(storage, attribute, None)
        if isinstance(value, str) and value:
            if attribute == "bucket_name":
                prefix = getattr(storage, "location", "") or ""
                value = f"{value}/{prefix.strip('/')}" if prefix.strip("/") else value
            return f"{cls_name}({value!r})"
    return f"{cls_name}()"
