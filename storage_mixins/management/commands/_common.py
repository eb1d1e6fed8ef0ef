"""What the storage_* commands share: the --storage option, finding layers,
the caches to invalidate, and a backend's failure reported in one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import InvalidStorageError, storages
from django.core.management.base import CommandError, CommandParser

from storage_mixins.backends.errors import backend_error_types, failure_summary
from storage_mixins.core.stack import find_router, walk
from storage_mixins.core.wrapper import StorageWrapper
from storage_mixins.services.namespaces import storage_identity
from storage_mixins.wrappers.caching import Caching
from storage_mixins.wrappers.fallback import Fallback

_P = ParamSpec("_P")
_R = TypeVar("_R")


def reports_backend_failures(handle: Callable[_P, _R]) -> Callable[_P, _R]:
    """A command's ``handle`` that ends with one line saying what to fix, and a
    non-zero exit, when a backend fails (bad credentials, a missing bucket,
    an endpoint that cannot be reached), rather than with a traceback."""

    @functools.wraps(handle)
    def handle_reporting_failures(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return handle(*args, **kwargs)
        except backend_error_types() as exc:
            raise CommandError(failure_summary(exc)) from exc

    return handle_reporting_failures


def add_storage_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--storage",
        default="default",
        metavar="ALIAS",
        # Not %(default)s: storage_pull's default is None, to tell --storage apart.
        help="The alias in settings.STORAGES to work on (default: 'default').",
    )


def storage_for(alias: str) -> Any:
    """``storages[alias]``, or a ``CommandError`` that says what went wrong."""
    try:
        return storages[alias]
    except InvalidStorageError as exc:
        known = ", ".join(sorted(storages.backends))
        raise CommandError(
            f"Unknown storage alias {alias!r} (settings.STORAGES has: {known})"
        ) from exc


def caches_over(storage: Any) -> list[Caching]:
    """Every ``Caching`` in ``storage`` and in the aliases of ``settings.STORAGES``
    that holds facts about one of ``storage``'s backends: what a command that
    changes what ``storage`` holds must invalidate. Two aliases over the same
    layers with different options have namespaces of their own, so each is
    told (a storage built outside ``STORAGES``, in a model's field, is not
    found: ``invalidate()`` it)."""
    backends = _backends_of(storage)
    found: dict[int, Caching] = {}
    for root in (storage, *_buildable(settings.STORAGES)):
        for _ancestors, node in walk(root):
            if isinstance(node, Caching) and not backends.isdisjoint(_backends_of(node)):
                found.setdefault(id(node), node)  # by identity: equal wrappers may be apart
    return list(found.values())


def _buildable(aliases: Any) -> list[Any]:
    """The storages of ``aliases`` that can be built here. One whose backend is
    missing (a package installed in production only) or misconfigured holds no
    facts in this process, and must not stop a command about another alias."""
    built = []
    for alias in aliases:
        try:
            built.append(storages[alias])
        except (InvalidStorageError, ImproperlyConfigured):
            continue
    return built


def _backends_of(storage: Any) -> set[str]:
    return {
        storage_identity(node)
        for _ancestors, node in walk(storage)
        if not isinstance(node, StorageWrapper)
    }


def fallback_for(alias: str, storage: Any) -> Fallback:
    """The Fallback of the stack, or a ``CommandError`` if it is not a stack."""
    fallback: Fallback | None = find_router(storage)
    if fallback is None:
        raise CommandError(
            f"STORAGES[{alias!r}] is {storage!r}, not a stack of layers: this command needs "
            "a storage_mixins.Fallback or FallbackStorage in it."
        )
    return fallback
