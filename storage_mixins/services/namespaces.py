"""The names of storages in a shared cache: what keeps the facts of different
storages, or of the same storage on different machines, apart.

A storage's *identity* says which store it talks to (its class, bucket,
location…) and, for a local disk, which machine and filesystem hold it; a
wrapper's adds the options that change its answers. ``Caching`` keys its
facts by a hash of it (its *namespace*), worked out at the first use and
again whenever a setting or an identity attribute changes
(:func:`forget_namespaces`). docs/caching.rst tells how, and why.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import socket
import threading
import uuid
import weakref

from django.core.files.storage import FileSystemStorage, InMemoryStorage

from ..core import hooks
from ..core.stack import children, is_wrapper
from .metadata_cache import forget_namespaces

__all__ = [
    "IDENTITY_ATTRIBUTES",
    "forget_namespaces",
    "machine_identity",
    "namespace_of",
    "storage_identity",
]

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


#: The attributes of a backend that its identity is made of: setting one
#: through a wrapper makes ``Caching`` work its namespace out again.
IDENTITY_ATTRIBUTES = frozenset(_IDENTITY_OPTIONS + _URL_OPTIONS)


def storage_identity(storage: object) -> str:
    """A string that differs between storages that hold different files, or
    that answer differently about them.

    Used to keep the cache entries of different storages apart when they
    share one cache. A wrapper's identity is made of its class, the options
    that change its answers (``on_delete="hide"`` answers otherwise than
    ``"ignore"`` over the same layers) and the identities of what it wraps.
    A backend's is its class and the attributes that say which store it
    talks to (bucket, location…); a local disk's also says which machine
    and which mounted filesystem hold it, so that a cache shared between
    machines never answers for one machine's files with another's
    (``/app/media`` is on every developer's machine). Computing it reads
    attributes that Django evaluates lazily (``FileSystemStorage.location``
    comes from ``MEDIA_ROOT`` at first use): call it when a storage is first
    used, not when it is built. It performs no I/O but for a local disk's
    ``stat()`` calls (see :func:`_disk_of`).
    """
    if is_wrapper(storage):
        inner = ",".join(storage_identity(child) for child in children(storage))
        identity_options = storage.identity_options()  # type: ignore[attr-defined]  # a wrapper's
        options = "".join(f"|{key}={value!r}" for key, value in identity_options.items())
        return f"{type(storage).__name__}({inner}{options})"
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
    if isinstance(storage, FileSystemStorage):
        parts.append(f"machine={machine_identity()}|disk={_disk_of(str(storage.location))}")
    return "|".join(parts)


@functools.cache
def machine_identity() -> str:
    """This machine, as long as it runs: on Linux its kernel's boot id, which
    every process and container on the machine shares and no other machine
    has (nor the same machine after a reboot); elsewhere its host name and
    hardware address."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot_id:
            return boot_id.read().strip()
    except OSError:
        node = uuid.getnode()
        # getnode() makes one up (multicast bit set) when it finds none: a
        # different one in each process, which would keep them apart.
        hardware = "" if node >> 40 & 1 else f"{node:012x}"
        return f"{socket.gethostname()}/{hardware}"


def _disk_of(location: str) -> str:
    """The mounted filesystem that holds ``location``: the device and inode of
    its root, found from the nearest directory that exists, so that it is the
    same before and after ``location`` is made. Two containers on one machine
    each have a root of their own, and share a volume they both mount."""
    path = os.path.abspath(location)
    while True:
        try:
            status = os.stat(path)
            break
        except OSError:  # missing, or not ours to see: ask the directory above
            parent = os.path.dirname(path)
            if parent == path:
                return "unknown"
            path = parent
    while (parent := os.path.dirname(path)) != path:
        try:
            above = os.stat(parent)
        except OSError:
            break
        if above.st_dev != status.st_dev:
            break  # path is where this filesystem is mounted
        path, status = parent, above
    return f"{status.st_dev:x}:{status.st_ino:x}"


def namespace_of(storage: object) -> str:
    """The namespace of ``storage``'s facts in a shared cache: a short hash of
    its identity."""
    return hashlib.blake2b(storage_identity(storage).encode(), digest_size=8).hexdigest()


def _identity_attribute_set(*, name: str, **_signal: object) -> None:
    if name in IDENTITY_ATTRIBUTES:
        forget_namespaces()  # the namespaces above it name another store now


hooks.storage_attribute_set.connect(
    _identity_attribute_set, dispatch_uid="storage_mixins.identity_attribute_set"
)
