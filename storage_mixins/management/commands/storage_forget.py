"""manage.py storage_forget: forget what the caches know of a stack's files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_mixins.backends.listers import lister_for
from storage_mixins.core.names import validate_directory
from storage_mixins.core.stack import leaves
from storage_mixins.references import batched

from ._common import add_storage_argument, caches_over, reports_backend_failures, storage_for

BATCH = 5000  # names forgotten at a time


class Command(BaseCommand):
    help = (
        "Forget what every Caching over a stack knows of its files under each PREFIX "
        "(all of them without one): their facts, the listings of their directories and "
        "their local copies, in every Caching of settings.STORAGES over one of its "
        "backends, and in every process sharing those caches. Run it after loading a "
        "production database dump, or after files changed around the stack: a listing "
        "cached before answers 'missing' for a file production gained since, until it "
        "expires. Each backend is listed once under each PREFIX (S3: one request per "
        "1,000 keys); no storage is written to."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "prefixes",
            nargs="*",
            metavar="PREFIX",
            help="Directories (or file names) to forget, relative to the storage root; "
            "none for all.",
        )
        add_storage_argument(parser)

    @reports_backend_failures
    def handle(self, *args: Any, prefixes: list[str], storage: str, **options: Any) -> None:
        stack = storage_for(storage)
        for prefix in prefixes:
            try:
                validate_directory(prefix)
            except SuspiciousFileOperation as exc:
                raise CommandError(f"{prefix!r}: {exc}") from exc
        prefixes = [prefix.strip("/") for prefix in prefixes] or [""]
        caches = caches_over(stack)
        if not caches:
            self.stdout.write(
                f"No Caching keeps facts of the files of {storage!r}: nothing to forget"
            )
            return
        forgotten = 0
        for batch in batched(_names(stack, prefixes), BATCH):
            for cache in caches:
                cache.invalidate_many(batch)
            forgotten += len(batch)
        where = ", ".join(repr(prefix) for prefix in prefixes)
        aliases = ", ".join(sorted({repr(cache.cache_alias) for cache in caches}))
        self.stdout.write(
            self.style.SUCCESS(
                f"Forgot {forgotten:,} name(s) under {where} in {len(caches)} Caching(s) "
                f"(cache {aliases}), for every process that shares them"
            )
        )


def _names(stack: Any, prefixes: list[str]) -> Iterator[str]:
    """Each prefix (a directory's name, or a file's), then the name of every file
    under it in a backend of ``stack``: what the caches may know wrongly.
    Forgetting a file's facts forgets its directories' listings too."""
    for prefix in prefixes:
        yield prefix
        backends = {id(backend): backend for backend in leaves(stack)}  # each once
        for backend in backends.values():
            for entry in lister_for(backend).walk(prefix):
                yield entry.name
