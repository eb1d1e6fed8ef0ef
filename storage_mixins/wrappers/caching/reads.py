"""What ``Caching``'s reads of its storage go through: the storage itself, or,
with listings, readers that answer from them.

For one storage, a :class:`~storage_mixins.wrappers.caching.listed_reader.ListedReader`
over it; for a stack, a view of the stack (``reading_through``) whose listed
layers are each read through one, so that the stack routes as ever and the
first layer that has the file wins. Worked out at the first read: the layers'
kinds are read then. See ``storage_mixins.services.listing_cache`` for when a
directory is listed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.files.storage import Storage

from ...core import hooks
from ...core.names import canonical_name
from ...core.stack import is_router
from ...services.cache_keys import MAX_LISTED_LAYERS
from ...services.listing_cache import LayerListings, wants_listing, watching_listings
from ...services.metadata_cache import MetadataCache
from .listed_reader import ListedReader

__all__ = ["Reads", "computed", "within"]

# A fact a storage answers (a size, a listing…), as cached.
_Fact = TypeVar("_Fact")


class Reads:
    """The read path of ``Caching(storage, listings=option, ...)``."""

    def __init__(
        self,
        storage: Storage,
        metadata: MetadataCache,
        *,
        option: bool | str,
        limit: int,
        timeout: float | None,
        missing_timeout: float | None,
    ) -> None:
        self.storage = storage
        self.stack: Any = storage if is_router(storage) else None
        self.metadata = metadata
        self.option = option
        self.limit = limit
        self.timeout = timeout
        self.missing_timeout = missing_timeout
        #: Each layer's listings (the storage's, for a storage that is no
        #: stack), ``None`` for a layer that is not listed; known once built.
        self.listings: tuple[LayerListings | None, ...] = ()
        self._reads: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        """What reads go through (built at the first call)."""
        reads = self._reads
        if reads is None:
            with self._lock:
                reads = self._reads
                if reads is None:
                    reads = self._reads = self._build()
        return reads

    def root(self) -> Any:
        """Where a read of a stack's layers starts: the listed view of the stack,
        or the storage."""
        return self.storage if self.stack is None else self.get()

    def describe(self) -> list[str]:
        """What ``describe()`` says of the listings."""
        if self.option is False:
            return ["listings=False"]
        self.get()
        listed = self.listings
        if not any(listed):
            return [] if self.option == "auto" else [f"listings={self.option!r}: none listable"]
        limit = f"≤ {self.limit:,} entries"
        if self.stack is None:
            assert listed[0] is not None
            return [f"listings: {listed[0].describe()}, {limit}"]
        layers = ", ".join(
            f"[{position}] {listings.describe()}"
            for position, listings in enumerate(listed)
            if listings is not None
        )
        return [f"listings: {layers}, {limit}"]

    def _build(self) -> Any:
        layers = (self.storage,) if self.stack is None else self.stack.layers
        self.listings = listings = tuple(
            self._listings_of(position, layer) for position, layer in enumerate(layers)
        )
        if not any(listings):
            return self.storage
        if self.stack is None:
            assert listings[0] is not None
            return ListedReader(self.storage, listings[0])

        def listed(position: int, _layer: Any, reader: Any) -> Any:
            layer_listings = listings[position]
            if layer_listings is None:
                return reader
            # on_error="skip": a listing is a read of the layer, through its breaker.
            layer_listings.breaker = getattr(reader, "breaker", None)
            return ListedReader(reader, layer_listings)

        return self.stack.reading_through(listed)

    def _listings_of(self, position: int, layer: Storage) -> LayerListings | None:
        if position >= MAX_LISTED_LAYERS or not wants_listing(self.option, layer):
            return None
        return LayerListings(
            self.metadata,
            position,
            layer,
            limit=self.limit,
            timeout=self.timeout,
            missing_timeout=self.missing_timeout,
            canonical=canonical_name,
        )


def computed(
    compute: Callable[[str], _Fact], name: str, *, may_skip: bool
) -> tuple[_Fact, bool, float | None]:
    """``compute(name)``; whether every layer took part in the answer (a stack
    that ``may_skip`` layers that are down answers without them then); and
    for how long, at most, it may be kept (``None``: no limit), which is what
    is left of the listings it was taken from."""
    with watching_listings() as listings:
        if not may_skip:
            return compute(name), True, listings.seconds_left()
        with hooks.watching_skips() as skipped:
            value = compute(name)
    return value, not skipped, listings.seconds_left()


def within(timeout: float | None, left: float | None) -> float | None:
    """``timeout``, cut to what is ``left`` of the listings an answer came from."""
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)
