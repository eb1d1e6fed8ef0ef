"""A layer's reader that answers from its directory listings first.

``Caching`` reads through a :class:`ListedReader` (for one storage, or each
listed layer of a stack, see ``Fallback.reading_through``): what the listing of
a file's directory says is answered without asking the layer, and everything
else is the layer's own. See ``storage_mixins.services.listing_cache`` for when a
directory is listed.
"""

from __future__ import annotations

from typing import Any

from ...backends.listing import UNKNOWN
from ...backends.s3.objects import plain_s3_backend
from ...core.proxy import Proxy
from ...services.listing_cache import LayerListings
from ...services.streaming import open_streamed

__all__ = ["ListedReader"]


class ListedReader(Proxy[Any]):
    """A layer's reader that answers what ``listings`` knows, and asks the
    reader the rest: ``exists``, ``size``, ``get_modified_time`` and the
    misses of the other reads. Used by ``Caching`` for its reads only.

    A read-mode ``open`` of a file that an S3 listing knows streams the
    object in one GET (``S3File`` sends two HEADs first) when nothing but
    ``ReadOnly`` stands between the reader and an ``S3Storage`` that keeps
    its own ``_open``: a ``Logging`` layer still sees every open, and not
    behind a circuit breaker (``on_error="skip"``), which the reader's open
    goes through.
    """

    def __init__(self, reader: Any, listings: LayerListings) -> None:
        super().__init__(reader)
        self._self_listings = listings

    @property
    def listings(self) -> LayerListings:
        return self._self_listings

    def exists(self, name: str) -> bool:
        known = self._self_listings.exists(name)
        return self.__wrapped__.exists(name) if known is None else known

    def size(self, name: str) -> int:
        size: int = self._answered("size", name)
        return size

    def get_modified_time(self, name: str) -> Any:
        return self._answered("get_modified_time", name)

    def get_accessed_time(self, name: str) -> Any:
        return self._missing_or_ask("get_accessed_time", name)

    def get_created_time(self, name: str) -> Any:
        return self._missing_or_ask("get_created_time", name)

    def open(self, name: str, mode: str = "rb") -> Any:
        return self._opened("open", name, mode)

    def _open(self, name: str, mode: str = "rb") -> Any:
        return self._opened("_open", name, mode)

    def _answered(self, method: str, name: str) -> Any:
        value = self._self_listings.answer(method, name)
        if value is UNKNOWN:
            return getattr(self.__wrapped__, method)(name)
        return value

    def _missing_or_ask(self, method: str, name: str) -> Any:
        self._self_listings.answer(method, name)  # raises for a missing file
        return getattr(self.__wrapped__, method)(name)

    def _opened(self, method: str, name: str, mode: str) -> Any:
        if mode not in ("rb", "r"):
            return getattr(self.__wrapped__, method)(name, mode)
        listings = self._self_listings
        known = listings.answer(method, name)  # raises for a missing file
        # Behind a circuit breaker (on_error="skip"), the reader opens: a layer
        # that is down is then skipped, where a stream would raise its outage.
        if (
            known is not UNKNOWN
            and mode == "rb"
            and listings.breaker is None
            and plain_s3_backend(listings.layer) is not None
        ):
            streamed = open_streamed(listings.layer, name)
            if streamed is not None:
                return streamed
        return getattr(self.__wrapped__, method)(name, mode)
