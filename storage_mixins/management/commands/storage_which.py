"""manage.py storage_which: which layer of a stack serves each name."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_mixins.core.labels import storage_label
from storage_mixins.core.stack import invents_files

from ._common import add_storage_argument, fallback_for, storage_for


class Command(BaseCommand):
    help = (
        "For each file name, show the layer of the stack that serves it, its size and "
        "its url, or 'not found in any layer'; a placeholder layer's answer is marked as "
        "such. Exits with an error if a name is not found."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="+", metavar="NAME", help="File names to look up.")
        add_storage_argument(parser)

    def handle(self, *args: Any, names: list[str], storage: str, **options: Any) -> None:
        fallback = fallback_for(storage, storage_for(storage))
        missing = 0
        for name in names:
            try:
                layer = fallback.which(name)
            except SuspiciousFileOperation as exc:
                raise CommandError(f"{name!r}: {exc}") from exc
            if layer is None:
                missing += 1
                self.stdout.write(self.style.WARNING(f"{name}: not found in any layer"))
                continue
            index = next(i for i, candidate in enumerate(fallback.layers) if candidate is layer)
            self.stdout.write(self.style.SUCCESS(name))
            made_up = ""
            if invents_files(layer):
                made_up = "  (a placeholder: no real layer has the file)"
            self.stdout.write(f"  layer: [{index}] {storage_label(layer)}{made_up}")
            self.stdout.write(f"  size:  {layer.size(name):,} bytes")
            self.stdout.write(f"  url:   {layer.url(name)}")
        if missing:
            raise CommandError(f"{missing} of {len(names)} name(s) not found in any layer")
