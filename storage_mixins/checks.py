"""System checks (``manage.py check``) for stacks configured in ``STORAGES``,
and for the settings around them.

=====================  =================================================
``storage_mixins.E001``  ``FallbackStorage`` without backends
``storage_mixins.E002``  a reference (alias, dotted path, cache) that does not resolve
``storage_mixins.E003``  a stack that cannot be built
``storage_mixins.W001``  a ``Fallback`` whose every layer is read-only
``storage_mixins.W002``  ``Caching`` on a ``DummyCache``, which keeps nothing
``storage_mixins.W003``  an alias that writes to a storage a stack reads as read-only
``storage_mixins.W004``  ``DEFAULT_FILE_STORAGE``, ``STATICFILES_STORAGE``: Django 5.1+ ignores them
``storage_mixins.W005``  ``FALLBACK_STORAGES``, which no ``FallbackStorage`` reads
``storage_mixins.W006``  sorl-thumbnail over a stack without ``storage_mixins.contrib.sorl.KVStore``
``storage_mixins.W007``  a ``Placeholders`` layer whose URLs nothing serves
=====================  =================================================

No check sends a request. They read settings, build the aliases whose
``BACKEND`` is one of the wrappers (and the aliases those refer to: building a
storage sends nothing), and look at what is built; an alias nothing refers to
is judged by its ``BACKEND`` and ``OPTIONS``, unbuilt, since some backends do
I/O when built (a manifest storage reads its manifest).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import (
    FileSystemStorage,
    InMemoryStorage,
    Storage,
    default_storage,
    storages,
)
from django.db.models import FileField
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from .backends.s3.client import is_s3
from .core.labels import storage_label
from .core.resolve import built_storages
from .core.stack import is_read_only, is_wrapper, leaves, walk, write_backend
from .core.wrapper import StorageWrapper
from .decorators import StackedStorageType
from .fallback_storage import FallbackStorage
from .placeholders import Placeholders
from .placeholders.storage import URL_NAME
from .wrappers.caching import Caching
from .wrappers.fallback import Fallback

__all__ = ["check_settings", "check_storages", "register"]

SORL_KVSTORE = "storage_mixins.contrib.sorl.KVStore"
_SORL_DEFAULT_KVSTORE = "sorl.thumbnail.kvstores.cached_db_kvstore.KVStore"
# Settings Django 5.1 removed, and the alias each set; and the class that
# replaces one a migrating project may still name.
_REMOVED_SETTINGS = {"DEFAULT_FILE_STORAGE": "default", "STATICFILES_STORAGE": "staticfiles"}
_REPLACED_BACKENDS = {"fallback_storage.storage.FallbackStorage": "storage_mixins.FallbackStorage"}


def register() -> None:
    checks.register(check_storages, "storage_mixins")
    checks.register(check_settings, "storage_mixins")


def check_storages(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Check every ``STORAGES`` alias whose backend is one of this library's wrappers,
    and that no alias writes to what a stack reads as read-only."""
    messages: list[checks.CheckMessage] = []
    # The STORAGES setting: alias -> {"BACKEND": ..., "OPTIONS": ...}.
    backends: dict[str, dict[str, Any]] = storages.backends  # type: ignore[assignment]  # django-stubs say alias -> Storage
    for alias, params in backends.items():
        wrapper = _wrapper_class(params.get("BACKEND"))
        if wrapper is None:
            continue
        found = list(_configuration_errors(alias, wrapper, params.get("OPTIONS", {}), backends))
        messages += found
        if found:
            continue  # building it would only repeat the error
        try:
            storage = storages[alias]
        # Any failure to build the stack is reported, whatever raised it.
        except Exception as exc:  # noqa: BLE001
            messages.append(
                checks.Error(
                    f"STORAGES[{alias!r}] cannot be built: {type(exc).__name__}: {exc}",
                    hint="Fix the OPTIONS of this alias or of the aliases it refers to.",
                    obj=alias,
                    id="storage_mixins.E003",
                )
            )
            continue
        messages += _stack_warnings(alias, storage)
    messages += _writable_read_only_storages(backends)
    return messages


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Check the settings around the stacks: those Django ignores, the legacy
    ``FALLBACK_STORAGES``, and the apps that need one of ``contrib``'s classes."""
    backends: dict[str, dict[str, Any]] = storages.backends  # type: ignore[assignment]  # as above
    return [
        *_ignored_storage_settings(backends),
        *_unread_fallback_storages(backends),
        *_sorl_without_its_store(backends),
    ]


def _wrapper_class(backend: Any) -> type[StorageWrapper] | None:
    cls = _imported(backend)
    return cls if isinstance(cls, type) and issubclass(cls, StorageWrapper) else None


def _imported(backend: Any) -> Any:
    """What the dotted path ``backend`` names, or ``None``: Django reports a
    ``BACKEND`` that does not import when the alias is used."""
    if not isinstance(backend, str):
        return None
    try:
        return import_string(backend)
    # ImproperlyConfigured: django-storages' S3 module without boto3.
    except (ImportError, ImproperlyConfigured):
        return None


def _configuration_errors(
    alias: str, wrapper: type, options: dict[str, Any], backends: dict[str, Any]
) -> Iterator[checks.CheckMessage]:
    if issubclass(wrapper, FallbackStorage):
        specs = options.get("backends") or getattr(settings, "FALLBACK_STORAGES", None)
        if not specs:
            yield checks.Error(
                f"STORAGES[{alias!r}] is a FallbackStorage without backends.",
                hint="Set OPTIONS={'backends': [...]} on it, or the FALLBACK_STORAGES setting.",
                obj=alias,
                id="storage_mixins.E001",
            )
            return
        for spec in specs:
            yield from _unresolved(alias, spec, backends, dotted_paths=True)
        return
    references = list(options.get("layers") or []) if issubclass(wrapper, Fallback) else []
    references += [options[key] for key in ("storage", "contents") if key in options]
    for reference in references:
        yield from _unresolved(alias, reference, backends, dotted_paths=False)
    if issubclass(wrapper, Caching):
        cache = options.get("cache", "default")
        if cache not in settings.CACHES:
            yield checks.Error(
                f"STORAGES[{alias!r}] uses cache {cache!r}, which is not in CACHES.",
                hint=f"Define CACHES[{cache!r}], or set OPTIONS['cache'] to one of "
                f"{sorted(settings.CACHES)}.",
                obj=alias,
                id="storage_mixins.E002",
            )


def _unresolved(
    alias: str, spec: Any, backends: dict[str, Any], *, dotted_paths: bool
) -> Iterator[checks.CheckMessage]:
    if isinstance(spec, Mapping):
        nested = _wrapper_class(spec.get("BACKEND"))
        if nested is not None:  # a wrapper nested in OPTIONS: its own references
            options = spec.get("OPTIONS", {})
            yield from _configuration_errors(alias, nested, options, backends)
            return
        spec = spec.get("BACKEND")
        dotted_paths = True
    if not isinstance(spec, str) or spec in backends:
        return
    if dotted_paths and "." in spec:
        try:
            import_string(spec)
        except ImportError as exc:
            yield checks.Error(
                f"STORAGES[{alias!r}] refers to {spec!r}, which cannot be imported: {exc}",
                hint="Check the dotted path of the storage class.",
                obj=alias,
                id="storage_mixins.E002",
            )
        return
    yield checks.Error(
        f"STORAGES[{alias!r}] refers to {spec!r}, which is not an alias in STORAGES.",
        hint=f"Use one of {sorted(backends)}, or define STORAGES[{spec!r}].",
        obj=alias,
        id="storage_mixins.E002",
    )


def _stack_warnings(alias: str, storage: Any) -> Iterator[checks.CheckMessage]:
    for _ancestors, node in walk(storage):
        if isinstance(node, Fallback) and node.refuses_writes:
            yield checks.Warning(
                f"STORAGES[{alias!r}]: every layer of {node!r} is read-only, so every "
                "upload will fail with ReadOnlyError.",
                hint="Add a writable layer (for FallbackStorage, the first backend is "
                "the writable one), unless the stack is meant to be read-only.",
                obj=alias,
                id="storage_mixins.W001",
            )
        if isinstance(node, Caching) and isinstance(caches[node.cache_alias], DummyCache):
            yield checks.Warning(
                f"STORAGES[{alias!r}]: {node!r} uses a DummyCache, which keeps nothing.",
                hint="Point OPTIONS['cache'] at a real cache (Redis, Memcached, LocMem).",
                obj=alias,
                id="storage_mixins.W002",
            )
        if isinstance(node, Placeholders) and node.base_url is None and not _routed(URL_NAME):
            yield checks.Warning(
                f"STORAGES[{alias!r}]: {node!r} gives URLs nothing serves: its view is not "
                "in the URLconf, so its images are broken links in pages.",
                hint='Add path("__placeholders__/", include("storage_mixins.placeholders.urls")) '
                "to the URLconf, or give Placeholders a base_url (docs/placeholders.rst).",
                obj=alias,
                id="storage_mixins.W007",
            )


def _routed(url_name: str) -> bool:
    """Whether the URLconf routes the view named ``url_name`` (taking a ``name``)."""
    try:
        reverse(url_name, kwargs={"name": "a.jpg"})
    except NoReverseMatch:
        return False
    return True


# -- W003: read-only by construction -------------------------------------------


def _writable_read_only_storages(backends: dict[str, Any]) -> Iterator[checks.CheckMessage]:
    """W003: an alias that writes to a storage which a stack reads as read-only.

    The stacks are the aliases built so far and the model fields' storages; an
    alias writes to the backend its writes reach (a router's write layer), or
    is read-only. A storage is the same as another if it is that instance, or
    was built alike: same class, same arguments (not an in-memory one, whose
    files are its own).
    """
    guarded = list(_read_only_backends())
    built = built_storages()
    for alias, params in backends.items():
        writes_to = _written_by(built[alias]) if alias in built else _written_by_settings(params)
        for reader, backend in guarded:
            if writes_to is not None and _alike(writes_to, backend):
                yield _w003(alias, reader, backend)
                break


def _read_only_backends() -> Iterator[tuple[str, Storage]]:
    """``(who reads it, backend)`` for every backend below a read-only node of a stack."""
    stacks = [(f"STORAGES[{alias!r}]", built) for alias, built in built_storages().items()]
    for reader, stack in [*stacks, *_field_storages()]:
        for _ancestors, node in walk(stack):
            if is_wrapper(node) and is_read_only(node):
                yield from ((reader, backend) for backend in leaves(node))


def _field_storages() -> Iterator[tuple[str, Storage]]:
    """The storages of the installed models' file fields that are not the default."""
    for model in apps.get_models():
        for field in model._meta.get_fields(include_parents=False):
            if isinstance(field, FileField) and field.storage is not default_storage:
                yield f"{model._meta.label}.{field.name}", field.storage


def _written_by(storage: Storage) -> Storage | None:
    """The backend that a write to ``storage`` reaches; ``None`` if it refuses
    every write."""
    return None if is_read_only(storage) else write_backend(storage)


def _written_by_settings(params: dict[str, Any]) -> tuple[type, tuple[()], dict[str, Any]] | None:
    """What an alias not built yet would write to, from its settings: the class
    and arguments of its backend. ``None`` for a stack (a wrapper, or a class
    decorated with one), which is judged once built."""
    cls = _imported(params.get("BACKEND"))
    if (
        not isinstance(cls, type)
        or issubclass(cls, StorageWrapper)
        or isinstance(cls, StackedStorageType)
    ):
        return None
    return cls, (), dict(params.get("OPTIONS", {}))


def _alike(writes_to: Any, backend: Storage) -> bool:
    """Whether ``writes_to`` (a storage, or ``(class, args, kwargs)`` of an
    unbuilt alias) is ``backend``, a storage built as ``backend`` was, or one
    that writes where ``backend`` keeps its files (:func:`_overlap`)."""
    if writes_to is backend:
        return True
    if isinstance(backend, InMemoryStorage):
        return False  # two in-memory storages never share a file
    made = writes_to if isinstance(writes_to, tuple) else _construction(writes_to)
    if made is not None and made == _construction(backend):
        return True
    if isinstance(writes_to, tuple):
        writes_to = _built_without_io(*writes_to)
    return writes_to is not None and _overlap(writes_to, backend)


# Backends whose construction reads settings only (no file, no request): an
# alias of one is built to see where it writes.
_BUILT_WITHOUT_IO = frozenset(
    {
        "django.core.files.storage.filesystem.FileSystemStorage",
        "storages.backends.s3.S3Storage",
        "storages.backends.s3boto3.S3Boto3Storage",
    }
)


def _built_without_io(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if f"{cls.__module__}.{cls.__qualname__}" not in _BUILT_WITHOUT_IO:
        return None
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError, ImproperlyConfigured):
        return None  # misconfigured: Django says so when the alias is used


def _overlap(storage: Any, backend: Storage) -> bool:
    """Whether ``storage`` writes where ``backend`` keeps its files, however
    their settings spell it: in the same bucket (at the same endpoint, case
    and trailing slash aside), under a prefix that contains ``backend``'s
    location or is contained in it; or in the same directory (its real path)."""
    if isinstance(storage, FileSystemStorage) and isinstance(backend, FileSystemStorage):
        return os.path.realpath(storage.location) == os.path.realpath(backend.location)
    ours, theirs = _bucket_place(storage), _bucket_place(backend)
    if ours is None or theirs is None or ours[0] != theirs[0]:
        return False
    inner, outer = sorted((ours[1], theirs[1]), key=len, reverse=True)
    return not outer or inner == outer or inner.startswith(outer + "/")


def _bucket_place(storage: Any) -> tuple[tuple[str, str, str], str] | None:
    """``((kind, endpoint, bucket), prefix)`` of a backend that keeps its files
    in a bucket; ``None`` for any other."""
    bucket = getattr(storage, "bucket_name", None)
    if not isinstance(bucket, str) or not bucket:
        return None
    endpoint = getattr(storage, "endpoint_url", None)
    endpoint = endpoint.rstrip("/").lower() if isinstance(endpoint, str) else ""
    kind = "s3" if is_s3(storage) else type(storage).__module__
    location = getattr(storage, "location", "")
    prefix = "/".join(part for part in str(location or "").split("/") if part)
    return (kind, endpoint, bucket), prefix


def _construction(storage: object) -> tuple[type, tuple[Any, ...], dict[str, Any]] | None:
    """``storage``'s class and the arguments it was built with, from its
    ``deconstruct()``; ``None`` if it has none that works."""
    deconstruct = getattr(storage, "deconstruct", None)
    if is_wrapper(storage) or not callable(deconstruct):
        return None
    try:
        _path, args, kwargs = deconstruct()
    except ValueError:  # Django's, for a class it cannot name (a local class)
        return None
    return type(storage), tuple(args), dict(kwargs)


def _w003(alias: str, reader: str, backend: Storage) -> checks.CheckMessage:
    return checks.Warning(
        f"STORAGES[{alias!r}] can write to {storage_label(backend)}, which {reader} reads "
        "as read-only: any code that names the alias (a FileField's storage, a shell, "
        "a command) can change or delete its files.",
        hint="Make production read-only by construction: one alias, "
        "{'BACKEND': 'storage_mixins.ReadOnly', 'OPTIONS': {'storage': {'BACKEND': ..., "
        "'OPTIONS': {...}}}}, with the backend's settings nested in it, and no other alias "
        "for that backend (docs/configuration.rst, 'Production, read-only by "
        "construction'). If writing through this alias is meant, add "
        "'storage_mixins.W003' to SILENCED_SYSTEM_CHECKS.",
        obj=alias,
        id="storage_mixins.W003",
    )


# -- W004, W005, W006: the settings around the stacks -----------------------------


def _ignored_storage_settings(backends: dict[str, Any]) -> Iterator[checks.CheckMessage]:
    """W004: ``DEFAULT_FILE_STORAGE`` and ``STATICFILES_STORAGE``, which Django 5.1
    removed: it ignores them without a word."""
    for setting, alias in _REMOVED_SETTINGS.items():
        value = getattr(settings, setting, None)
        if value is None:
            continue
        runs = backends.get(alias, {}).get("BACKEND")
        replacement = _REPLACED_BACKENDS.get(value, value)
        yield checks.Warning(
            f"{setting} = {value!r} is ignored since Django 5.1: STORAGES[{alias!r}] "
            + (f"is {runs!r}, and that is what runs." if runs else "is not set."),
            hint=f"Delete {setting}, and set STORAGES[{alias!r}] = {{'BACKEND': "
            f"{replacement!r}, 'OPTIONS': {{...}}}} (docs/migrating.rst).",
            obj=setting,
            id="storage_mixins.W004",
        )


def _unread_fallback_storages(backends: dict[str, Any]) -> Iterator[checks.CheckMessage]:
    """W005: ``FALLBACK_STORAGES`` set while no ``FallbackStorage`` reads it: each
    in ``STORAGES`` (nested ones too) and on the model fields has backends of its own."""
    if getattr(settings, "FALLBACK_STORAGES", None) is None:
        return
    if any(_reads_fallback_storages(params) for params in backends.values()):
        return
    for _field, storage in _field_storages():
        if any(_reads_the_setting(node) for _ancestors, node in walk(storage)):
            return
    yield checks.Warning(
        "FALLBACK_STORAGES is set, but no FallbackStorage reads it: each has "
        "OPTIONS['backends'] of its own, which FALLBACK_STORAGES does not change.",
        hint="Delete FALLBACK_STORAGES, or remove OPTIONS['backends'] from the "
        "FallbackStorage that should read it.",
        obj="FALLBACK_STORAGES",
        id="storage_mixins.W005",
    )


def _reads_fallback_storages(spec: Any) -> bool:
    """Whether the ``STORAGES`` item ``spec``, or a storage dict nested in its
    options, is a ``FallbackStorage`` without backends."""
    if isinstance(spec, list | tuple):
        return any(_reads_fallback_storages(item) for item in spec)
    if not isinstance(spec, Mapping):
        return False
    options = spec.get("OPTIONS", {})
    if not isinstance(options, Mapping):
        return False  # misconfigured: building it reports why
    wrapper = _wrapper_class(spec.get("BACKEND"))
    if wrapper is not None and issubclass(wrapper, FallbackStorage) and not options.get("backends"):
        return True
    return any(_reads_fallback_storages(value) for value in options.values())


def _reads_the_setting(storage: object) -> bool:
    if not issubclass(type(storage), FallbackStorage):
        return False
    _path, args, kwargs = storage.deconstruct()  # type: ignore[attr-defined]  # a FallbackStorage's
    return not args and kwargs.get("backends") is None


def _sorl_without_its_store(backends: dict[str, Any]) -> Iterator[checks.CheckMessage]:
    """W006: sorl-thumbnail records a storage by its ``__class__``, which through a
    wrapper is the wrapped class, and rebuilds it bare: a stack needs the store
    that records it by alias."""
    if not apps.is_installed("sorl.thumbnail"):
        return
    stacks = [alias for alias, params in backends.items() if _wrapper_class(params.get("BACKEND"))]
    store = getattr(settings, "THUMBNAIL_KVSTORE", _SORL_DEFAULT_KVSTORE)
    if not stacks or _extends(store, SORL_KVSTORE):
        return
    yield checks.Warning(
        f"sorl-thumbnail's THUMBNAIL_KVSTORE is {store!r}, which records a stack "
        f"(STORAGES[{stacks[0]!r}]) as the class it wraps and rebuilds that class bare: "
        "`thumbnail cleanup` drops sources only production has, and a thumbnail found "
        "in the store again gets a URL of MEDIA_URL, broken unless the stack's local "
        "layer is at MEDIA_ROOT.",
        hint=f"Set THUMBNAIL_KVSTORE = {SORL_KVSTORE!r} (sorl's cached-database store, "
        "recording storages by alias; docs/apps.rst).",
        obj="THUMBNAIL_KVSTORE",
        id="storage_mixins.W006",
    )


def _extends(dotted_path: object, base: str) -> bool:
    """Whether ``dotted_path`` is ``base``, or names a subclass of it."""
    if dotted_path == base:
        return True
    cls = _imported(dotted_path)
    return isinstance(cls, type) and any(
        f"{ancestor.__module__}.{ancestor.__qualname__}" == base for ancestor in cls.__mro__
    )
