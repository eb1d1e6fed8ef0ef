"""A directory's listing as the Django cache keeps it, and decoded.

A listing is kept compactly: the names, ``\\0``-separated, and the sizes and
modification times as 64-bit integers, zlib-compressed, with a token that
names this very listing and the time it expires; each process decodes a
listing once, keeping :data:`DECODED_ENTRIES` entries decoded.
"""

from __future__ import annotations

import array
import datetime
import sys
import threading
import zlib
from typing import Any

import cachetools

from ..backends.listing import ABSENT, ASK, DIRECTORY, UNKNOWN, UNKNOWN_SIZE, Kind, Listing
from .cache_keys import new_token

__all__ = ["DECODED_ENTRIES", "Decoded", "decode", "decoded_listings", "encode"]

#: How many entries of decoded listings each process keeps (an empty listing
#: counts as one).
DECODED_ENTRIES = 100_000

_FORMAT = "sm-listing-2"
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)


class Decoded:
    """A cached listing, decoded: what it says of each base name."""

    __slots__ = ("directories", "expires", "files", "not_a_directory", "sizes", "times")

    def __init__(
        self,
        files: dict[str, int],
        sizes: array.array[int],
        times: array.array[int],
        directories: frozenset[str],
        not_a_directory: bool,
        expires: float | None = None,
    ) -> None:
        self.files = files
        self.sizes = sizes
        self.times = times
        self.directories = directories
        self.not_a_directory = not_a_directory
        self.expires = expires  # when the cached listing expires (time.time())

    def __len__(self) -> int:
        return len(self.files) + len(self.directories)

    def lookup(self, base: str) -> Any:
        """``ABSENT``, ``DIRECTORY``, ``UNKNOWN``, or ``(size, modified)`` for a
        file (either ``None`` where the listing does not say)."""
        index = self.files.get(base)
        if index is None:
            return DIRECTORY if base in self.directories else ABSENT
        size = self.sizes[index]
        if size == ASK:
            return UNKNOWN
        microseconds = self.times[index]
        modified = None if microseconds < 0 else _EPOCH + microseconds * _MICROSECOND
        return (None if size == UNKNOWN_SIZE else size), modified


def encode(listing: Listing, kind: Kind, expires: float | None = None) -> tuple[Any, ...] | None:
    """The cached form of ``listing``, kept until ``expires`` (a ``time.time()``,
    ``None``: until a write fences it), or ``None`` if a name cannot be kept in it."""
    names = list(listing.files)
    if any("\0" in name for name in (*names, *listing.directories)):
        return None  # no name a backend can give has one, but do not guess
    sizes = array.array("q")
    times = array.array("q")
    for entry in listing.files.values():
        sizes.append(kind.sizeless_entry() if entry.size is None else entry.size)
        modified = kind.modified(entry)
        times.append(-1 if modified is None else (modified - _EPOCH) // _MICROSECOND)
    if sys.byteorder == "big":  # kept little-endian, for caches shared across machines
        sizes.byteswap()
        times.byteswap()
    return (
        _FORMAT,
        new_token(),
        expires,
        _packed("\0".join(names)),
        _packed("\0".join(listing.directories)),
        zlib.compress(sizes.tobytes() + times.tobytes(), 1),
        listing.not_a_directory,
    )


def _packed(text: str) -> bytes:
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 1)


def _unpacked(data: bytes) -> list[str]:
    text = zlib.decompress(data).decode("utf-8", "surrogatepass")
    return text.split("\0") if text else []


class _DecodedListings:
    """Decoded listings by token, at most ``limit`` entries in all (least
    recently used first out); an empty listing counts as one entry, and a
    listing of more than ``limit`` entries is kept alone. A token names one
    listing, whose contents never change, so this memory is never stale: it
    only saves decoding again what the cache still holds."""

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe
        # Weighed by entries, at least one (listings of empty directories,
        # made again under a new token at each expiry, must be dropped too),
        # at most the whole limit: cachetools refuses (ValueError) a value
        # heavier than the cache, where one listing of more entries than the
        # limit is worth keeping, alone, all the more.
        self._listings: cachetools.LRUCache[str, Decoded] = cachetools.LRUCache(
            limit, getsizeof=lambda decoded: min(max(len(decoded), 1), limit)
        )

    def get(self, value: Any) -> Decoded | None:
        """``value`` from the cache, decoded; ``None`` if it is not a listing."""
        if type(value) is not tuple or len(value) != 7 or value[0] != _FORMAT:
            return None
        token = value[1]
        with self._lock:
            decoded = self._listings.get(token)
        if decoded is not None:
            return decoded
        decoded = decode(value)
        if decoded is None:
            return None
        with self._lock:
            if token not in self._listings:
                self._listings[token] = decoded
        return decoded

    def clear(self) -> None:
        with self._lock:
            self._listings.clear()


def decode(value: tuple[Any, ...]) -> Decoded | None:
    _format, _token, expires, names, directories, numbers, not_a_directory = value
    try:
        files = _unpacked(names)
        raw = zlib.decompress(numbers)
    except (zlib.error, UnicodeDecodeError):
        return None
    sizes = array.array("q")
    times = array.array("q")
    half = len(raw) // 2
    sizes.frombytes(raw[:half])
    times.frombytes(raw[half:])
    if sys.byteorder == "big":
        sizes.byteswap()
        times.byteswap()
    if len(sizes) != len(files) or len(times) != len(files):
        return None
    index = {name: position for position, name in enumerate(files)}
    return Decoded(
        index, sizes, times, frozenset(_unpacked(directories)), bool(not_a_directory), expires
    )


decoded_listings = _DecodedListings(DECODED_ENTRIES)
