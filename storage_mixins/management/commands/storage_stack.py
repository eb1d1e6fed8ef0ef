"""manage.py storage_stack: show a storage stack, probe each backend and each
cache it uses, and say what to fix."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.management.base import BaseCommand, CommandError, CommandParser

from storage_mixins.backends.probes import probe
from storage_mixins.core.labels import storage_label
from storage_mixins.core.stack import is_read_only, walk, write_backend
from storage_mixins.core.wrapper import StorageWrapper
from storage_mixins.observability.describe import describe
from storage_mixins.wrappers.caching import Caching
from storage_mixins.wrappers.fallback import Fallback

from ._common import add_storage_argument, storage_for

SLOW_MS = 1000.0  # a request slower than this is a problem


class Command(BaseCommand):
    help = (
        "Show the storage stack of an alias as a tree, then probe each backend in it "
        "once, with a read-only request (S3: one ListObjectsV2 of one key), and each "
        "cache its Caching wrappers use: is it reachable, read-only or writable, how "
        "long the request took. Then one line per problem found, with its fix: invalid "
        "credentials, a missing bucket, s3:ListBucket denied, an endpoint that cannot "
        "be reached, a slow request, a write layer that cannot be written, a cache that "
        "is down. Exits with an error if a problem was found."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_storage_argument(parser)
        parser.add_argument(
            "--check",
            action="store_true",
            help="Probe without drawing the tree: for scripts and CI (the exit status says).",
        )
        parser.add_argument(
            "--slow",
            type=float,
            default=SLOW_MS,
            metavar="MS",
            help="A request slower than MS milliseconds is a problem (default: %(default)s).",
        )

    def handle(self, *args: Any, storage: str, check: bool, slow: float, **options: Any) -> None:
        stack = storage_for(storage)
        if not check:
            self.stdout.write(describe(stack))
            self.stdout.write("")
        problems = self._probe_backends(stack, slow) + self._probe_caches(stack, slow)
        for problem in problems:
            self.stdout.write(self.style.ERROR(problem))
        if problems:
            raise CommandError(
                f"{len(problems)} problem(s) in {storage!r}: each is listed above with its fix"
            )
        self.stdout.write(self.style.SUCCESS(f"No problem found in {storage!r}"))

    def _probe_backends(self, stack: Any, slow: float) -> list[str]:
        """A line for each backend; the problems found, one line each."""
        problems = []
        writes_to = write_backend(stack)
        for ancestors, backend in walk(stack):
            if isinstance(backend, StorageWrapper):
                continue  # probe the backends themselves, not through caches or logs
            read_only = any(is_read_only(ancestor) for ancestor in ancestors)
            where = f"{_position(ancestors, backend)}{storage_label(backend)}"
            result = probe(backend, takes_writes=backend is writes_to, slow_ms=slow)
            access = "read-only" if read_only else "writable"
            if result.milliseconds is None:
                state = "UNREACHABLE" if result.unreachable else "FAILING"
                self.stdout.write(f"{where}  {self.style.ERROR(state)}  {access}")
            else:
                self.stdout.write(
                    self.style.SUCCESS(f"{where}  reachable")
                    + f"  {access}  {result.request} {result.milliseconds:.1f} ms"
                )
            problems += [f"{where}: {problem}. Fix: {fix}." for problem, fix in result.problems]
        return problems

    def _probe_caches(self, stack: Any, slow: float) -> list[str]:
        """A line for each cache a ``Caching`` of the stack uses (one ``get``);
        the problems found."""
        aliases = dict.fromkeys(
            node.cache_alias for _ancestors, node in walk(stack) if isinstance(node, Caching)
        )
        problems = []
        for alias in aliases:
            cache = caches[alias]
            where = f"cache {alias!r} ({type(cache).__name__})"
            if isinstance(cache, DummyCache):
                problems.append(
                    f"{where}: keeps nothing, so Caching saves no request. Fix: give Caching "
                    "a cache that keeps (cache=..., an alias in CACHES)."
                )
            start = time.perf_counter()
            try:
                cache.get(f"storage_mixins:probe:{uuid.uuid4().hex}")
            # Whatever the cache's client raises (redis, pymemcache, sockets).
            except Exception as exc:  # noqa: BLE001
                self.stdout.write(f"{where}  {self.style.ERROR('UNREACHABLE')}")
                problems.append(
                    f"{where}: cannot be reached ({type(exc).__name__}: {exc}); storage calls "
                    f"go on uncached meanwhile. Fix: start it, or check CACHES[{alias!r}]"
                    "['LOCATION']."
                )
                continue
            milliseconds = (time.perf_counter() - start) * 1000
            self.stdout.write(self.style.SUCCESS(f"{where}  reachable") + f"  get() "
                              f"{milliseconds:.1f} ms")  # fmt: skip
            if milliseconds > slow:
                problems.append(
                    f"{where}: slow: one get() took {milliseconds:.0f} ms (more than "
                    f"{slow:.0f} ms). Fix: use a cache near this machine."
                )
        return problems


def _position(ancestors: tuple[Any, ...], backend: Any) -> str:
    """Where the backend sits in its stacks, e.g. ``[1] `` or ``[1][0] ``."""
    indexes = []
    children = [*ancestors[1:], backend]
    for ancestor, child in zip(ancestors, children, strict=True):
        if isinstance(ancestor, Fallback):
            indexes.append(next(i for i, layer in enumerate(ancestor.layers) if layer is child))
    return "".join(f"[{index}]" for index in indexes) + (" " if indexes else "")
