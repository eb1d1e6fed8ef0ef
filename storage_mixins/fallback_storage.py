"""``FallbackStorage``: the ready-made stack, configured from settings.

It replaces django-fallback-storage's class of the same name (same setting,
same documented behaviour, safer where they differ: docs/migrating.rst),
assembled from the wrappers: with the default options it is
``Fallback(first, ReadOnly(second), ReadOnly(third)…)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .core.labels import storage_label
from .core.resolve import StorageSpec, build_storage
from .core.stack import is_read_only
from .wrappers.fallback import Fallback
from .wrappers.readonly import ReadOnly

__all__ = ["FallbackStorage"]


class FallbackStorage(Fallback):
    """A :class:`~storage_mixins.Fallback` built from a list of backends.

    ``backends`` is a list whose items are each the name of an alias in
    ``settings.STORAGES``, a dotted path to a storage class (instantiated
    without arguments) or a ``{"BACKEND": ..., "OPTIONS": {...}}`` dict. It
    defaults to ``settings.FALLBACK_STORAGES``, the setting of
    django-fallback-storage. Backends are built once, when the
    ``FallbackStorage`` is.

    ``writable`` is the index, or the alias, of the backend that takes writes
    (default: the first). With ``read_only=True`` (the default) every other
    backend is wrapped in :class:`~storage_mixins.ReadOnly`; ``read_only=False``
    leaves them as they are, so only the routing keeps writes away from them.
    ``shadow``, ``on_delete``, ``on_error``, ``failures`` and ``retry_after``
    are :class:`~storage_mixins.Fallback`'s options.

    Copies (``copy``, ``deepcopy``, ``pickle``) are rebuilt from these
    arguments: aliases resolve to Django's shared instances again, dotted
    paths and dicts build new backends.
    """

    deconstruct_path = "storage_mixins.FallbackStorage"

    def __init__(
        self,
        backends: Sequence[StorageSpec] | None = None,
        *,
        writable: int | str = 0,
        read_only: bool = True,
        shadow: bool = False,
        on_delete: str = "ignore",
        on_error: str = "raise",
        failures: int = 3,
        retry_after: float = 30.0,
    ) -> None:
        specs = _backend_specs(backends)
        index = _writable_index(specs, writable)
        layers = [build_storage(spec) for spec in specs]
        if read_only:
            layers = [
                layer if position == index or is_read_only(layer) else ReadOnly(layer)
                for position, layer in enumerate(layers)
            ]
        super().__init__(
            *layers,
            writable=index,
            shadow=shadow,
            on_delete=on_delete,
            on_error=on_error,
            failures=failures,
            retry_after=retry_after,
        )

    def _repr_arguments(self) -> list[str]:
        arguments = [storage_label(layer) for layer in self.layers]
        if self._self_write_index:
            arguments.append(f"writable={self._self_write_index}")
        if not self._self_arguments[1].get("read_only", True):
            arguments.append("read_only=False")
        return arguments + self._repr_policies()


def _backend_specs(backends: Sequence[Any] | None) -> list[Any]:
    source = "backends"
    if backends is None:
        source = "settings.FALLBACK_STORAGES"
        backends = getattr(settings, "FALLBACK_STORAGES", None)
    if not backends:
        raise ImproperlyConfigured(
            f"FallbackStorage needs backends: {source} is missing or empty. Set "
            "FALLBACK_STORAGES, or pass OPTIONS={'backends': [...]} in STORAGES."
        )
    if isinstance(backends, str | bytes) or not isinstance(backends, Sequence):
        raise ImproperlyConfigured(
            f"{source} must be a list of backends, not {type(backends).__name__}"
        )
    return list(backends)


def _writable_index(specs: list[Any], writable: int | str) -> int:
    if isinstance(writable, str):
        if writable not in specs:
            raise ImproperlyConfigured(
                f"writable={writable!r} is not one of the backends {specs!r}"
            )
        return specs.index(writable)
    if isinstance(writable, bool) or not isinstance(writable, int):
        raise ImproperlyConfigured(f"writable must be a backend index or alias, not {writable!r}")
    if not -len(specs) <= writable < len(specs):
        raise ImproperlyConfigured(f"writable={writable} is out of range for {len(specs)} backends")
    return writable % len(specs)
