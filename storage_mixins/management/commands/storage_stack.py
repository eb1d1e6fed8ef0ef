"""manage.py storage_stack: show a storage stack and probe each backend."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_mixins.core.labels import storage_label
from storage_mixins.core.stack import is_read_only, walk
from storage_mixins.core.wrapper import StorageWrapper
from storage_mixins.observability.describe import describe
from storage_mixins.wrappers.fallback import Fallback

from ._common import add_storage_argument, storage_for


class Command(BaseCommand):
    help = (
        "Show the storage stack of an alias as a tree, then probe each backend in it "
        "once: is it reachable, is it read-only, how long does one exists() take. "
        "Exits with an error if a backend is unreachable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_storage_argument(parser)

    def handle(self, *args: Any, storage: str, **options: Any) -> None:
        stack = storage_for(storage)
        self.stdout.write(describe(stack))
        self.stdout.write("")
        probe = f".storage-mixins-probe-{uuid.uuid4().hex}"
        unreachable = 0
        for ancestors, backend in walk(stack):
            if isinstance(backend, StorageWrapper):
                continue  # probe the backends themselves, not through caches or logs
            # Read-only behind a ReadOnly, or by its own declaration (Placeholders).
            read_only = any(is_read_only(node) for node in (*ancestors, backend))
            where = _position(ancestors, backend)
            access = "read-only" if read_only else "writable"
            start = time.perf_counter()
            try:
                backend.exists(probe)
            # A probe reports any failure; the command's job is to say which.
            except Exception as exc:  # noqa: BLE001
                unreachable += 1
                self.stdout.write(
                    self.style.ERROR(
                        f"{where}{storage_label(backend)}  UNREACHABLE ({type(exc).__name__}: "
                        f"{exc})  {access}"
                    )
                )
                continue
            milliseconds = (time.perf_counter() - start) * 1000
            self.stdout.write(
                self.style.SUCCESS(f"{where}{storage_label(backend)}  reachable")
                + f"  {access}  exists() {milliseconds:.1f} ms"
            )
        if unreachable:
            raise CommandError(f"{unreachable} backend(s) of {storage!r} unreachable")


def _position(ancestors: tuple[Any, ...], backend: Any) -> str:
    """Where the backend sits in its stacks, e.g. ``[1] `` or ``[1][0] ``."""
    indexes = []
    children = [*ancestors[1:], backend]
    for ancestor, child in zip(ancestors, children, strict=True):
        if isinstance(ancestor, Fallback):
            indexes.append(next(i for i, layer in enumerate(ancestor.layers) if layer is child))
    return "".join(f"[{index}]" for index in indexes) + (" " if indexes else "")
