"""manage.py storage_tombstones: list, or clear, the tombstones of a stack."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_mixins.core.names import validate_name

from ._common import add_storage_argument, caches_over, fallback_for, storage_for


class Command(BaseCommand):
    help = (
        'List the names a stack with on_delete="hide" hides (its tombstones), or, with '
        "--clear, clear the tombstones of the given names (of every name if none is "
        "given), so that the read-only layers' copies are served again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_storage_argument(parser)
        parser.add_argument(
            "--clear",
            nargs="*",
            metavar="NAME",
            help="Clear these names' tombstones; every tombstone if no name is given.",
        )

    def handle(self, *args: Any, storage: str, clear: list[str] | None, **options: Any) -> None:
        stack = storage_for(storage)
        fallback = fallback_for(storage, stack)
        tombstones = fallback.tombstones
        if tombstones is None:
            raise CommandError(
                f'{fallback!r} keeps no tombstones: it deletes with on_delete="'
                f'{fallback.on_delete}", not "hide"'
            )
        names = tombstones.names()
        if clear is None:
            for name in names:
                self.stdout.write(name)
            self.stdout.write(self.style.SUCCESS(f"{len(names)} tombstone(s)"))
            return
        targets = clear or names
        caches = caches_over(stack)  # the stack answers otherwise for a cleared name
        for name in targets:
            try:
                validate_name(name)
            except SuspiciousFileOperation as exc:
                raise CommandError(f"{name!r}: {exc}") from exc
            if name not in names:
                self.stdout.write(self.style.WARNING(f"{name}: no tombstone"))
                continue
            try:
                tombstones.discard(name)
            finally:
                for cache in caches:
                    cache.invalidate(name)
            self.stdout.write(f"{name}: cleared")
        self.stdout.write(self.style.SUCCESS(f"{len(set(targets) & set(names))} cleared"))
