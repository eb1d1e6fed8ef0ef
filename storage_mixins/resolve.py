"""Turning what a user wrote in settings or code into a storage instance.

Wrappers accept a storage instance or the name of an alias in ``STORAGES``;
``FallbackStorage`` additionally accepts a dotted path to a storage class or a
``{"BACKEND": ..., "OPTIONS": ...}`` dict. Aliases always resolve to Django's
shared instance (``storages[alias]``). Because Django's storage handler creates
each alias on first use, aliases may refer to each other in any order; a cycle
is reported as ``ImproperlyConfigured`` instead of a ``RecursionError``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage, storages
from django.utils.module_loading import import_string

__all__ = ["build_storage", "resolve_storage"]

StorageSpec = Storage | str

_resolving = threading.local()


def resolve_storage(storage: StorageSpec, *, owner: str = "storage_mixins") -> Any:
    """Return ``storage`` itself, or Django's shared instance for an alias name."""
    if isinstance(storage, str):
        return _storage_for_alias(storage)
    if isinstance(storage, type):
        raise TypeError(
            f"{owner} expects a storage instance or a STORAGES alias, got the class "
            f"{storage.__qualname__}; pass an instance, e.g. {storage.__qualname__}()"
        )
    looks_like_a_storage = all(
        callable(getattr(storage, method, None)) for method in ("open", "exists")
    )
    if not looks_like_a_storage:
        raise TypeError(f"{owner} expects a storage instance or a STORAGES alias, got {storage!r}")
    return storage


def build_storage(spec: object, *, setting: str = "FALLBACK_STORAGES") -> Any:
    """Build one backend of a ``FallbackStorage``.

    ``spec`` is a ``STORAGES`` alias, a dotted path to a storage class
    (instantiated without arguments, as django-fallback-storage did), a
    ``{"BACKEND": ..., "OPTIONS": ...}`` dict, or a storage instance.
    """
    if isinstance(spec, str):
        if spec in storages.backends:
            return _storage_for_alias(spec)
        if "." not in spec:
            raise ImproperlyConfigured(
                f"{setting} item {spec!r} is not an alias in settings.STORAGES "
                f"(aliases: {', '.join(map(repr, storages.backends)) or 'none'})."
            )
        try:
            storage_class = import_string(spec)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"{setting} item {spec!r} is neither an alias in settings.STORAGES "
                f"nor an importable storage class: {exc}"
            ) from exc
        return storage_class()
    if isinstance(spec, Mapping):
        if "BACKEND" not in spec:
            raise ImproperlyConfigured(f"{setting} item {dict(spec)!r} has no 'BACKEND' key.")
        return storages.create_storage(dict(spec))
    try:
        return resolve_storage(spec, owner=setting)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ImproperlyConfigured(
            f"{setting} items must be STORAGES aliases, dotted paths to storage "
            f"classes, {{'BACKEND': ..., 'OPTIONS': ...}} dicts or storage "
            f"instances; got {spec!r}."
        ) from exc


def _storage_for_alias(alias: str) -> Any:
    chain: list[str] = _resolving.__dict__.setdefault("chain", [])
    if alias in chain:
        cycle = " -> ".join([*chain[chain.index(alias) :], alias])
        raise ImproperlyConfigured(f"settings.STORAGES aliases form a cycle: {cycle}")
    chain.append(alias)
    try:
        return storages[alias]
    finally:
        chain.pop()
