"""What the storage_* commands share: the --storage option and finding layers."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import InvalidStorageError, storages
from django.core.management.base import CommandError, CommandParser

from storage_mixins.fallback import Fallback
from storage_mixins.introspection import find_fallback


def add_storage_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--storage",
        default="default",
        metavar="ALIAS",
        help="The alias in settings.STORAGES to work on (default: %(default)s).",
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


def fallback_for(alias: str, storage: Any) -> Fallback:
    """The Fallback of the stack, or a ``CommandError`` if it is not a stack."""
    fallback = find_fallback(storage)
    if fallback is None:
        raise CommandError(
            f"STORAGES[{alias!r}] is {storage!r}, not a stack of layers: this command needs "
            "a storage_mixins.Fallback or FallbackStorage in it."
        )
    return fallback
