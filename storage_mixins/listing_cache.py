"""Directory listings in the Django cache: one request answers a whole directory.

``Caching(..., listings=...)`` answers ``exists``, ``size`` and
``get_modified_time`` from the cached listing of the file's directory, and so
does everything a ``Fallback`` derives from ``exists``: which layer ``url()``
and ``open()`` use, and the ``path()`` probe. A name missing from a listed
directory costs no request at all. See ``storage_mixins.listings`` for how
each kind of backend is listed.

When to list, and when to ask per file (the policy):

* A directory is listed the first time a fact about one of its files is not
  cached, in one request per 1,000 entries, once per process however many
  threads ask at the same time. Which layers are listed is the ``listings``
  option: ``"auto"``, S3 only; ``True``, every layer; ``False``, none.
* A directory with more than ``listing_limit`` entries (files and
  subdirectories; :data:`LISTING_LIMIT` by default) is not kept: its files
  are asked about one by one, as without listings, and it is not listed
  again for ``timeout`` seconds. A directory of 100,000 objects costs five
  list requests per ``timeout``, then one request per file: never 100 for one
  ``exists()``.
* While a write into a directory fences its listing (``FENCE_SECONDS``), its
  files are asked about one by one: a listing made then could not be stored.
* A listing lives ``min(timeout, missing_timeout)`` seconds: it answers
  misses, and a miss is kept no longer than that. An answer taken from a
  listing is kept only for what is left of the listing's life (by the wall
  clock: across machines, give or take the difference of their clocks), so
  nothing a listing said outlives it.
* Asked per file, always: the root directory itself, names whose meaning only
  the backend knows (see ``Caching``), what a listing does not say (a local
  directory's size, a dangling link's, any size from a backend listed by
  ``listdir()``), ``get_accessed_time`` and ``get_created_time`` of files
  that exist.
* If listing fails, the file is asked about on its own, and no read that
  works without listings fails with them. A refusal (S3's 403, when the
  credentials lack ``s3:ListBucket``; ``NotImplementedError``) turns
  listings of that layer off in this process, with one warning; a transport
  error (the backend is down) pauses them for :data:`RETRY_AFTER` seconds,
  and the per-file request reports the outage as it would without listings;
  any other error keeps the directory unlisted for ``timeout`` seconds (at
  most :data:`UNLISTABLE_SECONDS`), with one warning per layer and process.
* Nothing is listed when nothing would be kept (``timeout`` or
  ``missing_timeout`` 0).
* Only what the listing can stand for is answered from it: reads of a layer
  behind nothing but ``ReadOnly``, ``Caching`` and ``Logging`` (another
  wrapper may change what ``exists()`` means), and only the methods its
  backend's class keeps as ``S3Storage``'s or ``FileSystemStorage``'s own (an
  ``exists()`` that always says ``False``, to overwrite, is asked). In a
  ``Fallback(..., on_error="skip")``, a listing goes through the layer's
  circuit breaker like every read.

A listing is a fact like the others: it is kept in the same cache and
namespace as the per-file facts (fact ``listing:N`` of the directory, for
layer ``N``), read and stored with the same version protocol, and every write
through the wrapper fences the listings of every directory above the name it
writes, in every process sharing the cache (see
``storage_mixins.metadata_cache``). Answers derived from a listing are stored
as per-file facts, so a warm hit is still one ``get``; whoever stores them
learns how long the listings they came from have left with
:func:`watching_listings`.

A listing is kept compactly: the names, ``\\0``-separated, and the sizes and
modification times as 64-bit integers, zlib-compressed, with a token that
names this very listing and the time it expires; each process decodes a
listing once, keeping :data:`DECODED_ENTRIES` entries decoded.
"""

from __future__ import annotations

import array
import collections
import contextlib
import datetime
import logging
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from .contents_cache import _KeyedLocks
from .failover import CircuitBreaker, is_transport_error
from .labels import storage_label
from .listing_kinds import (
    ABSENT,
    ASK,
    DIRECTORY,
    UNKNOWN,
    UNKNOWN_SIZE,
    Kind,
    S3Kind,
    kind_of,
)
from .listings import FileSystemLister, ListdirLister, Listing, S3Lister, lister_for
from .metadata_cache import MetadataCache, _new_token, listing_fact

__all__ = [
    "DECODED_ENTRIES",
    "LISTING_LIMIT",
    "RETRY_AFTER",
    "UNLISTABLE_SECONDS",
    "Consulted",
    "Decoded",
    "LayerListings",
    "decode",
    "decoded_listings",
    "encode",
    "wants_listing",
    "watching_listings",
]

logger = logging.getLogger(__name__)

#: Directories with more entries than this are answered per file.
LISTING_LIMIT = 5_000
#: Seconds without listing a layer that could not be reached.
RETRY_AFTER = 30.0
#: Seconds, at most, without listing a directory whose listing failed otherwise.
UNLISTABLE_SECONDS = 300.0
#: How many entries of decoded listings each process keeps.
DECODED_ENTRIES = 100_000

_FORMAT = "sm-listing-2"
_TOO_MANY = "sm-listing:too-many"  # the cached fact of a directory over the limit
_UNLISTABLE = "sm-listing:unlistable"  # …of one whose listing failed
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)

_locks = _KeyedLocks()


class Consulted:
    """When the earliest of the listings an answer was taken from expires."""

    __slots__ = ("expires",)

    def __init__(self) -> None:
        self.expires: float | None = None  # wall-clock seconds; None: no listing expires

    def note(self, expires: float | None) -> None:
        if expires is not None and (self.expires is None or expires < self.expires):
            self.expires = expires

    def seconds_left(self) -> float | None:
        """How long an answer taken from these listings may still be kept
        (``None``: no limit; 0 or less: not at all)."""
        return None if self.expires is None else self.expires - time.time()


# The listings consulted during the current call, while someone (Caching)
# watches: what it stores from them must not outlive them.
_consulted: ContextVar[Consulted | None] = ContextVar("storage_mixins_consulted", default=None)


@contextlib.contextmanager
def watching_listings() -> Iterator[Consulted]:
    """Note when the listings that reads inside the block consulted expire."""
    consulted = Consulted()
    token = _consulted.set(consulted)
    try:
        yield consulted
    finally:
        _consulted.reset(token)
        outer = _consulted.get()
        if outer is not None:
            outer.note(consulted.expires)  # a watcher further out must know too


def wants_listing(option: bool | str, storage: Any) -> bool:
    """Whether ``Caching(listings=option)`` lists the directories of ``storage``.

    Only storages whose reads a listing can stand for: a backend, behind
    nothing but ``ReadOnly``, ``Caching`` and ``Logging`` (or a ``Fallback``,
    listed by its ``listdir()``). A wrapper of another kind may change what
    ``exists()`` means, and is asked per file.
    """
    if option is False or not _reads_are_the_backend_s(storage):
        return False
    if option is True:
        return True
    return isinstance(lister_for(storage), S3Lister)


def _reads_are_the_backend_s(storage: Any) -> bool:
    from .base import StorageWrapper
    from .caching import Caching
    from .fallback import Fallback
    from .logging import Logging
    from .readonly import ReadOnly

    while isinstance(storage, StorageWrapper):
        kind = type(storage)  # the proxy's own class (isinstance sees the wrapped one's)
        if issubclass(kind, Fallback):
            return True
        if kind not in (ReadOnly, Caching, Logging):
            return False
        storage = storage.__wrapped__
    return True


# -- a listing in the cache ---------------------------------------------------------


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
        _new_token(),
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
    recently used first out). A token names one listing, whose contents never
    change, so this memory is never stale: it only saves decoding again what
    the cache still holds."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._listings: collections.OrderedDict[str, Decoded] = collections.OrderedDict()
        self._entries = 0

    def get(self, value: Any) -> Decoded | None:
        """``value`` from the cache, decoded; ``None`` if it is not a listing."""
        if type(value) is not tuple or len(value) != 7 or value[0] != _FORMAT:
            return None
        token = value[1]
        with self._lock:
            decoded = self._listings.get(token)
            if decoded is not None:
                self._listings.move_to_end(token)
                return decoded
        decoded = decode(value)
        if decoded is None:
            return None
        with self._lock:
            if token not in self._listings:
                self._listings[token] = decoded
                self._entries += len(decoded)
                while self._entries > self.limit and len(self._listings) > 1:
                    _, dropped = self._listings.popitem(last=False)
                    self._entries -= len(dropped)
        return decoded

    def clear(self) -> None:
        with self._lock:
            self._listings.clear()
            self._entries = 0


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


# -- the listings of one layer -------------------------------------------------------


class LayerListings:
    """The cached listings of one layer's directories, and what they say.

    ``metadata`` holds them (as fact ``listing:position``); ``layer`` is the
    storage listed (through :func:`~storage_mixins.listings.lister_for`,
    worked out at the first use); directories over ``limit`` entries are not
    kept. ``canonical`` gives a name's cached spelling, or ``None`` for one
    that is not cached.
    """

    def __init__(
        self,
        metadata: MetadataCache,
        position: int,
        layer: Any,
        *,
        limit: int,
        timeout: float | None,
        missing_timeout: float | None,
        canonical: Callable[[str], str | None],
    ) -> None:
        self.metadata = metadata
        self.position = position
        self.fact = listing_fact(position)
        self.layer = layer
        self.limit = limit
        self.timeout = timeout
        self.lifetime = _shorter(timeout, missing_timeout)
        self.unlistable_for = _shorter(timeout, UNLISTABLE_SECONDS)
        self.canonical = canonical
        self._kind: Kind | None = None
        self._lock = threading.Lock()
        self.off: str | None = None  # why listing this layer stopped, in this process
        #: The layer's circuit breaker, in a ``Fallback(..., on_error="skip")``:
        #: a listing is a read of the layer like the others.
        self.breaker: CircuitBreaker | None = None
        self._paused_until = 0.0
        self._warned = False

    @property
    def kind(self) -> Kind:
        kind = self._kind
        if kind is None:
            kind = self._kind = kind_of(lister_for(self.layer))
        return kind

    def describe(self) -> str:
        """How this layer is listed, and whether listing works: for describe()."""
        lister = self.kind.lister
        how = {
            S3Lister: "ListObjectsV2",
            FileSystemLister: "os.scandir",
            ListdirLister: "listdir(), existence only",
        }.get(type(lister), type(lister).__name__)
        if self.lifetime is not None and self.lifetime <= 0:
            return f"{how}, off: a listing would not be kept (missing_timeout={self.lifetime})"
        if self.off is not None:
            return f"{how}, off in this process ({self.off})"
        if time.monotonic() < self._paused_until:
            return f"{how}, paused: unreachable"
        return how

    # -- what the listing says of a name ------------------------------------------

    def find(self, name: Any) -> tuple[Any, Decoded | None]:
        """What the listing of ``name``'s directory says of it, and that listing:
        ``UNKNOWN`` (ask the storage), ``ABSENT``, ``DIRECTORY``, or ``(size,
        modified)`` for a file (either ``None`` where the listing does not say)."""
        if self.off is not None or not isinstance(name, str):
            return UNKNOWN, None
        path = self.canonical(name)
        if not path:  # not cached, or the root directory
            return UNKNOWN, None
        directory, _, base = path.rpartition("/")
        if not self.kind.reaches(path, directory, base):
            return UNKNOWN, None
        listing = self.listing(directory)
        if listing is None:
            return UNKNOWN, None
        consulted = _consulted.get()
        if consulted is not None:
            consulted.note(listing.expires)
        return listing.lookup(base), listing

    def exists(self, name: Any) -> bool | None:
        """Whether ``name`` exists, or ``None`` to ask the storage."""
        if "exists" not in self.kind.answers:
            return None
        answer, _listing = self.find(name)
        if answer is ABSENT:
            return False
        if answer is DIRECTORY:
            return self.kind.directories_exist
        if answer is UNKNOWN:
            return None
        return True

    def answer(self, method: str, name: Any) -> Any:
        """For ``size`` and ``get_modified_time``, the value; for another read,
        the file's ``(size, modified)``; :data:`UNKNOWN` when the storage is
        to be asked. For a missing file, raises what the backend raises."""
        kind = self.kind
        if method not in kind.answers or method not in kind.missing_methods:
            return UNKNOWN
        answer, listing = self.find(name)
        if answer is UNKNOWN:
            return UNKNOWN
        if answer is DIRECTORY:
            if kind.directories_exist is not False:
                return UNKNOWN  # a local directory has a size and times of its own
            answer = ABSENT  # an S3 prefix is no object
        if answer is ABSENT:
            assert listing is not None
            raise kind.missing(method, name, listing)
        if method == "size":
            return UNKNOWN if answer[0] is None else answer[0]
        if method == "get_modified_time":
            return UNKNOWN if answer[1] is None else answer[1]
        return answer

    # -- the listing of a directory ----------------------------------------------

    def listing(self, directory: str) -> Decoded | None:
        """The cached listing of ``directory``, listed now if it is not cached;
        ``None`` when its files are to be asked about one by one."""
        if self.lifetime is not None and self.lifetime <= 0:
            return None  # nothing would be kept: listing every call would cost more
        metadata = self.metadata
        hit, value = metadata.get(self.fact, directory)
        if hit:
            return decoded_listings.get(value)
        if time.monotonic() < self._paused_until:
            return None
        reservation = metadata.reserve(self.fact, directory, value)
        if reservation is None:
            return None  # fenced by a write, or the cache failed: per file
        with _locks.hold(reservation.key):  # one listing at a time, per process
            hit, value = metadata.get(self.fact, directory)
            if hit:  # another thread listed it meanwhile
                return decoded_listings.get(value)
            breaker = self.breaker
            if breaker is not None and not breaker.allow():
                return None  # the layer is down: reads skip it
            try:
                listing = self.kind.lister.list(directory, limit=self.limit)
            # Listing only saves requests: whatever it raises, the file is asked
            # about on its own, which raises what it would without listings.
            except Exception as exc:  # noqa: BLE001
                if self._failed(exc, directory):
                    metadata.add(
                        reservation, _UNLISTABLE, _shorter(self.timeout, UNLISTABLE_SECONDS)
                    )
                return None
            if breaker is not None:
                breaker.succeeded()
            if not listing.complete:
                metadata.add(reservation, _TOO_MANY, self.timeout)
                return None
            lifetime = self.lifetime
            expires = None if lifetime is None else time.time() + lifetime
            encoded = encode(listing, self.kind, expires)
            if encoded is None:
                metadata.add(reservation, _UNLISTABLE, self.unlistable_for)
                return None
            metadata.add(reservation, encoded, lifetime)
        return decoded_listings.get(encoded)

    def _failed(self, exc: Exception, directory: str) -> bool:
        """Deal with a listing that raised; whether to keep ``directory`` unlisted."""
        label = storage_label(self.layer)
        transport = is_transport_error(exc)
        breaker = self.breaker
        if breaker is not None and transport:
            breaker.failed(exc)
        elif breaker is not None:
            breaker.succeeded()  # it answered, if only to refuse
        if transport:
            self._paused_until = time.monotonic() + RETRY_AFTER
            logger.debug("Listing %r of %s failed (%s); paused for %.0f s", directory, label,
                         exc, RETRY_AFTER)  # fmt: skip
            return False
        refused = isinstance(exc, NotImplementedError) or _refused_by_s3(exc)
        with self._lock:
            warn = not self._warned
            self._warned = True
            if refused:
                self.off = _reason(exc)
        if refused and warn:
            hint = " Grant s3:ListBucket on the bucket to answer from listings." if (
                isinstance(self.kind, S3Kind)) else ""  # fmt: skip
            logger.warning(
                "Listing %s was refused (%s): Caching asks about its files one by one "
                "in this process.%s",
                label,
                _reason(exc),
                hint,
            )
        elif warn:
            logger.warning(
                "Listing %r of %s failed (%s): its files are asked about one by one (this "
                "warning is not repeated for this layer)",
                directory,
                label,
                _reason(exc),
            )
        return not refused


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _refused_by_s3(exc: BaseException) -> bool:
    """A 403 from S3 (botocore's ``ClientError``): the credentials may not list."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return bool(status == 403 or response.get("Error", {}).get("Code") == "AccessDenied")


def _shorter(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)
