"""Finding files of an ``HTTPStorage`` for a batch of names: one ``HEAD`` each,
a few at a time. HTTP has no listing, so the lister lists nothing.

``storage_audit``, ``storage_which`` and ``storage_pull --referenced`` ask
which layer has each of many names (``services.lookup``); for an HTTP layer
each name is one ``HEAD`` (what its answer says fills the entry: size,
modification time, ``ETag``), :data:`CONCURRENCY` at a time, each in a copy
of the caller's context, so a recording counts them.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
from collections.abc import Iterable, Iterator
from typing import NoReturn

from ...core.labels import storage_label
from ..listing import Entry, Lister, Listing

__all__ = ["CONCURRENCY", "HTTPLister"]

#: HEAD requests in flight at once, for a batch of names.
CONCURRENCY = 8


class HTTPLister(Lister):
    """Finds files of an :class:`HTTPStorage` by name; cannot list directories."""

    knows = frozenset({"size", "modified", "etag"})
    lists = False

    def list(self, directory: str = "", *, limit: int | None = None) -> Listing:
        self._cannot("list")

    def walk(self, directory: str = "") -> Iterator[Entry]:
        self._cannot("walk")

    def find(self, names: Iterable[str]) -> dict[str, Entry | None]:
        wanted = list(dict.fromkeys(names))
        if len(wanted) <= 1:
            return {name: self._entry(name) for name in wanted}
        workers = min(CONCURRENCY, len(wanted))
        with concurrent.futures.ThreadPoolExecutor(workers, "storage_mixins.http") as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, self._entry, name) for name in wanted
            ]
            return {name: future.result() for name, future in zip(wanted, futures, strict=True)}

    def _entry(self, name: str) -> Entry | None:
        facts = self.backend.head(name)
        if facts is None:
            return None
        etag = facts.strong_etag
        return Entry(name, facts.size, facts.modified, etag.strip('"') if etag else None)

    def _cannot(self, what: str) -> NoReturn:
        raise NotImplementedError(
            f"{storage_label(self.backend)} cannot {what} directories: HTTP has no listing. "
            "Its files are found by name"
        )
