"""One-line, I/O-free descriptions of storages, for ``repr()`` and error messages."""

from __future__ import annotations

import secrets
import threading
import weakref

from django.core.files.storage import InMemoryStorage

__all__ = ["storage_identity", "storage_label"]

# Attributes that say *which* store a backend instance talks to, most specific
# first: S3 / Google Cloud bucket, Azure container, filesystem location.
_IDENTITY_ATTRIBUTES = ("bucket_name", "azure_container", "location")


def storage_label(storage: object) -> str:
    """Describe ``storage`` in one line, e.g. ``S3Storage('production-media')``.

    Wrappers describe themselves (their ``repr``); a plain backend is shown as
    its class name and the bucket, container or directory it uses. Reading the
    label never performs I/O.
    """
    from .base import StorageWrapper  # circular: base uses this module

    if isinstance(storage, StorageWrapper):
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


# Options of django-storages' backends that shape what url() gives (signed or
# not, how, for how long), so that storages differing in them keep apart.
_URL_OPTIONS = (
    "querystring_auth",
    "querystring_expire",
    "url_protocol",
    "addressing_style",
    "signature_version",
    "region_name",
    "expiration_secs",
    "cloudfront_key_id",
)

_tokens: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()
_tokens_lock = threading.Lock()


def _token_of(storage: object) -> str:
    """A random token for ``storage``, the same for as long as it lives."""
    with _tokens_lock:
        token = _tokens.get(storage)
        if token is None:
            token = _tokens[storage] = secrets.token_hex(8)
    return token


# Attributes that, with the class, say which store a backend reads and writes.
# Not base_url: it says where files are served, not which files there are,
# and a lazy one (reverse_lazy) must wait until url() is called.
_IDENTITY_OPTIONS = (
    "bucket_name",
    "location",
    "endpoint_url",
    "custom_domain",
    "azure_container",
    "account_name",
)


def storage_identity(storage: object) -> str:
    """A string that differs between storages that hold different files.

    Used to keep the cache entries of different storages apart when they
    share one cache. Computing it performs no I/O, but it reads attributes
    that Django evaluates lazily (``FileSystemStorage.location`` comes from
    ``MEDIA_ROOT`` at first use): call it when a storage is first used, not
    when it is built.
    """
    from .base import StorageWrapper

    if isinstance(storage, StorageWrapper):
        children = getattr(storage, "layers", None) or (storage.__wrapped__,)
        inner = ",".join(storage_identity(child) for child in children)
        return f"{type(storage).__name__}({inner})"
    cls = type(storage)
    parts = [f"{cls.__module__}.{cls.__qualname__}"]
    if isinstance(storage, InMemoryStorage):
        # Its files live in this object only. Not id(): CPython gives a dead
        # object's id to the next one, which would inherit its cached facts.
        parts.append(f"instance={_token_of(storage)}")
    for attribute in _IDENTITY_OPTIONS:
        value = getattr(storage, attribute, None)
        if isinstance(value, str) and value:
            parts.append(f"{attribute}={value}")
    for attribute in _URL_OPTIONS:
        value = getattr(storage, attribute, None)
        if isinstance(value, str | bool | int) and not isinstance(value, type):
            parts.append(f"{attribute}={value!r}")
    return "|".join(parts)
