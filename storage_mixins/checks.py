"""System checks (``manage.py check``) for stacks configured in ``STORAGES``.

=====================  =================================================
``storage_mixins.E001``  ``FallbackStorage`` without backends
``storage_mixins.E002``  a reference (alias, dotted path, cache) that does not resolve
``storage_mixins.E003``  a stack that cannot be built
``storage_mixins.W001``  a ``Fallback`` whose every layer is read-only
``storage_mixins.W002``  ``Caching`` on a ``DummyCache``, which keeps nothing
=====================  =================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.utils.module_loading import import_string

from .core.stack import walk
from .core.wrapper import StorageWrapper
from .fallback_storage import FallbackStorage
from .wrappers.caching import Caching
from .wrappers.fallback import Fallback

__all__ = ["check_storages", "register"]


def register() -> None:
    checks.register(check_storages, "storage_mixins")


def check_storages(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Check every ``STORAGES`` alias whose backend is one of this library's wrappers."""
    from django.core.files.storage import storages

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
    return messages


def _wrapper_class(backend: Any) -> type[StorageWrapper] | None:
    if not isinstance(backend, str):
        return None
    try:
        cls = import_string(backend)
    except ImportError:
        return None  # Django reports an unknown backend when it is used
    return cls if isinstance(cls, type) and issubclass(cls, StorageWrapper) else None


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
    if isinstance(spec, dict):
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
