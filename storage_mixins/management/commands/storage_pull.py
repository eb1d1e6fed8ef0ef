"""manage.py storage_pull: copy files from read-only layers into the write layer."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_mixins.caching import Caching
from storage_mixins.introspection import walk
from storage_mixins.labels import storage_label
from storage_mixins.names import validate_directory
from storage_mixins.streaming import copy_file, open_stream

from ._common import add_storage_argument, fallback_for, storage_for


class Command(BaseCommand):
    help = (
        "Copy the files under each PREFIX from the read-only layers of a stack into its "
        "write layer, so that a development machine can work offline. Files already "
        "there with the same contents are skipped, so an interrupted pull can be run "
        "again; a local file that differs is a conflict, reported and left alone unless "
        "--force is given. Nothing is ever written to a read-only layer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "prefixes",
            nargs="+",
            metavar="PREFIX",
            help="Directories (or file names) to copy, relative to the storage root; '' for all.",
        )
        add_storage_argument(parser)
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be copied; copy nothing."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace local files that differ from the read-only layers' copies.",
        )

    def handle(
        self,
        *args: Any,
        prefixes: list[str],
        storage: str,
        dry_run: bool,
        force: bool,
        **options: Any,
    ) -> None:
        stack = storage_for(storage)
        fallback = fallback_for(storage, stack)
        target = fallback.write_layer
        if target is None:
            raise CommandError(f"{fallback!r} has no writable layer to copy into")
        sources = [layer for layer in fallback.layers if layer is not target]
        plan = self._plan(prefixes, sources)
        caches = [node for _ancestors, node in walk(stack) if isinstance(node, Caching)]
        started = time.perf_counter()
        copied = skipped = copied_bytes = 0
        conflicts: list[str] = []
        for number, (name, source) in enumerate(plan, 1):
            size = source.size(name)
            progress = f"[{number}/{len(plan)}] {name} ({size:,} bytes)"
            blocked = _blocked_locally(target, name)
            if blocked is None and target.exists(name):
                if _same_contents(source, target, name, size):
                    skipped += 1
                    self.stdout.write(f"{progress}: already present")
                    continue
                if not force:
                    blocked = "the local copy differs (use --force to replace it)"
            if blocked is not None:
                conflicts.append(name)
                self.stderr.write(f"{progress}: conflict, not copied: {blocked}")
                continue
            if dry_run:
                self.stdout.write(f"{progress}: would copy from {storage_label(source)}")
                continue
            try:
                copy_file(source, target, name)
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
                # A file and a directory of the same name: S3 holds both, a
                # filesystem cannot (and the check above may have lost a race).
                conflicts.append(name)
                self.stderr.write(f"{progress}: conflict, not copied: {exc}")
                continue
            for cache in caches:
                cache.invalidate(name)
            copied += 1
            copied_bytes += size
            self.stdout.write(f"{progress}: copied, {copied_bytes:,} bytes so far")
        seconds = time.perf_counter() - started
        verb = "Would copy" if dry_run else "Copied"
        count = len(plan) - skipped - len(conflicts) if dry_run else copied
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {count} file(s), {copied_bytes:,} bytes; {skipped} already present; "
                f"{len(conflicts)} conflict(s); into {storage_label(target)} in {seconds:.1f} s"
            )
        )
        if conflicts:
            raise CommandError(
                f"{len(conflicts)} file(s) not copied because of a conflict with a local "
                "file or directory (listed above); the other files were copied"
            )

    def _plan(self, prefixes: list[str], sources: list[Any]) -> list[tuple[str, Any]]:
        """Every file to consider, with the layer reads would take it from."""
        plan: dict[str, Any] = {}
        for prefix in prefixes:
            try:
                validate_directory(prefix)
            except SuspiciousFileOperation as exc:
                raise CommandError(f"{prefix!r}: {exc}") from exc
            for source in sources:
                for name in _files_under(source, prefix.strip("/")):
                    plan.setdefault(name, source)
        return list(plan.items())


def _files_under(storage: Any, prefix: str) -> Iterator[str]:
    try:
        directories, files = storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        directories, files = [], []
    if prefix and not directories and not files and _is_file(storage, prefix):
        yield prefix
        return
    for name in files:
        yield f"{prefix}/{name}" if prefix else name
    for directory in directories:
        yield from _files_under(storage, f"{prefix}/{directory}" if prefix else directory)


def _is_file(storage: Any, name: str) -> bool:
    try:
        storage.size(name)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False
    return True


def _blocked_locally(target: Any, name: str) -> str | None:
    """Why ``name`` cannot be a file in a local ``target``, or ``None``.

    S3 can hold both ``a`` and ``a/b``; a filesystem cannot: a directory where
    the file should go, or a file where one of its directories should go.
    """
    try:
        path = target.path(name)
        root = target.path("")
    except (NotImplementedError, AttributeError):
        return None  # not local: the copy itself reports such a collision
    if os.path.isdir(path) and not os.path.islink(path):
        return f"{name!r} is a directory locally"
    parent = os.path.dirname(path)
    while len(parent) > len(root):
        if os.path.lexists(parent) and not os.path.isdir(parent):
            relative = os.path.relpath(parent, root).replace(os.sep, "/")
            return f"{relative!r} is a file locally, so {name!r} cannot be stored under it"
        parent = os.path.dirname(parent)
    return None


def _same_contents(source: Any, target: Any, name: str, size: int) -> bool:
    """Whether the target's ``name`` has the source's bytes (sizes first, then hashes)."""
    if target.size(name) != size:
        return False
    source_hash = hashlib.md5(usedforsecurity=False)
    for chunk in open_stream(source, name).chunks:
        source_hash.update(chunk)
    target_hash = hashlib.md5(usedforsecurity=False)
    with target.open(name, "rb") as handle:
        for chunk in handle.chunks():
            target_hash.update(chunk)
    return source_hash.digest() == target_hash.digest()
