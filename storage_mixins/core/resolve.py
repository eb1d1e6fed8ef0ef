"""Turning what a user wrote in settings or code into a storage instance.

Wrappers accept a storage instance, the name of an alias in ``STORAGES`` or a
``{"BACKEND": ..., "OPTIONS": ...}`` dict (what ``deconstruct()`` produces, so
that a stack rebuilds from plain data); ``FallbackStorage`` additionally
accepts a dotted path to a storage class. Aliases always resolve to Django's
shared instance (``storages[alias]``). Because Django's storage handler creates
each alias on first use, aliases may refer to each other in any order; a cycle
is reported as ``ImproperlyConfigured`` instead of a ``RecursionError``.

A dict or dotted path is imported and called, so it must name a storage class
(a ``Storage`` subclass or a wrapper): anything else is refused before it is
called. Plain data that reaches a stack from outside (a task queue, a
migration) can thus build storages, and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import InvalidStorageError, Storage, storages
from django.utils.functional import LazyObject, empty
from django.utils.module_loading import import_string

__all__ = [
    "StorageSpec",
    "accept_storage_classes",
    "alias_of",
    "build_storage",
    "built_storages",
    "resolve_storage",
    "storage_class",
]

StorageSpec = Storage | str | Mapping[str, Any]

_resolving = threading.local()


def resolve_storage(storage: StorageSpec, *, owner: str = "storage_mixins") -> Storage:
    """Return ``storage`` itself, Django's shared instance for an alias name, or
    a new storage built from a ``{"BACKEND": ..., "OPTIONS": ...}`` dict."""
    if isinstance(storage, str):
        return _storage_for_alias(storage)
    if isinstance(storage, Mapping):
        return _storage_from_dict(storage, setting=owner)
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


def build_storage(spec: object, *, setting: str = "FALLBACK_STORAGES") -> Storage:
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
            cls = import_string(spec)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"{setting} item {spec!r} is neither an alias in settings.STORAGES "
                f"nor an importable storage class: {exc}"
            ) from exc
        return _require_storage_class(cls, spec, setting)()
    if isinstance(spec, Mapping):
        return _storage_from_dict(spec, setting=setting)
    try:
        return resolve_storage(spec, owner=setting)  # type: ignore[arg-type]  # it checks spec
    except TypeError as exc:
        raise ImproperlyConfigured(
            f"{setting} items must be STORAGES aliases, dotted paths to storage "
            f"classes, {{'BACKEND': ..., 'OPTIONS': ...}} dicts or storage "
            f"instances; got {spec!r}."
        ) from exc


def alias_of(storage: object) -> str | None:
    """The ``STORAGES`` alias whose shared instance (``storages[alias]``) is
    ``storage``, or ``None``; ``default_storage`` is ``"default"``.

    Only aliases already built are compared: none is built to answer.
    """
    if isinstance(storage, LazyObject):  # default_storage, and apps' own lazy storages
        if storage._wrapped is empty:
            storage._setup()
        storage = storage._wrapped
    return next((alias for alias, built in built_storages().items() if built is storage), None)


def built_storages() -> dict[str, Storage]:
    """The ``STORAGES`` aliases built so far, and their shared instances; none
    is built to answer."""
    # Django's cache of built aliases, copied at once: another thread may add one.
    return {str(alias): built for alias, built in tuple(getattr(storages, "_storages", {}).items())}


def storage_class(backend: object, *, setting: str = "STORAGES") -> type[Storage]:
    """The storage class that the dotted path ``backend`` names.

    Raises ``InvalidStorageError`` (an ``ImproperlyConfigured``) if it cannot
    be imported, or names anything but a storage class: a function, a class
    that is not a storage, a module attribute that happens to be callable.
    Nothing is called.
    """
    if not isinstance(backend, str):
        raise InvalidStorageError(f"{setting}: BACKEND must be a dotted path, not {backend!r}")
    try:
        cls = import_string(backend)
    except ImportError as exc:
        raise InvalidStorageError(f"Could not find backend {backend!r}: {exc}") from exc
    return _require_storage_class(cls, backend, setting)


def _require_storage_class(cls: object, backend: str, setting: str) -> type[Storage]:
    """``cls``, if it is a storage class (a wrapper class is one)."""
    if not (isinstance(cls, type) and issubclass(cls, _storage_classes)):
        raise InvalidStorageError(
            f"{setting}: {backend!r} is not a storage class (a subclass of "
            f"django.core.files.storage.Storage or of storage_mixins.StorageWrapper), "
            f"so it is not called"
        )
    return cls  # type: ignore[return-value]  # a Storage, or a wrapper: one to its callers


# The classes whose subclasses are storages: Django's, and the wrappers' base,
# which adds itself (see accept_storage_classes).
_storage_classes: tuple[type, ...] = (Storage,)


def accept_storage_classes(base: type) -> None:
    """Accept the subclasses of ``base`` as storage classes (the wrappers' base
    is a proxy, not a ``Storage``)."""
    global _storage_classes
    _storage_classes = (*_storage_classes, base)


def _storage_from_dict(spec: Mapping[Any, Any], *, setting: str) -> Storage:
    # Errors name the keys, never the OPTIONS' values: they may be credentials.
    keys = ", ".join(map(repr, sorted(map(str, spec))))
    if "BACKEND" not in spec:
        raise ImproperlyConfigured(f"{setting} item (keys {keys}) has no 'BACKEND' key.")
    backend = spec["BACKEND"]
    if set(spec) - {"BACKEND", "OPTIONS"}:
        raise ImproperlyConfigured(
            f"{setting} item {backend!r} has keys other than 'BACKEND' and 'OPTIONS': {keys}"
        )
    options = spec.get("OPTIONS", {})
    if not isinstance(options, Mapping) or not all(isinstance(key, str) for key in options):
        raise ImproperlyConfigured(
            f"{setting} item {backend!r}: OPTIONS must be a dict of keyword arguments"
        )
    storage_class(backend, setting=setting)  # refused before anything is called
    return storages.create_storage({"BACKEND": backend, "OPTIONS": dict(options)})


def _storage_for_alias(alias: str) -> Storage:
    chain: list[str] = _resolving.__dict__.setdefault("chain", [])
    if alias in chain:
        cycle = " -> ".join([*chain[chain.index(alias) :], alias])
        raise ImproperlyConfigured(f"settings.STORAGES aliases form a cycle: {cycle}")
    chain.append(alias)
    try:
        return storages[alias]
    finally:
        chain.pop()
