"""Directory listings in the Django cache: one request answers a whole directory.

``Caching(..., listings=...)`` answers ``exists``, ``size`` and
``get_modified_time`` from the cached listing of the file's directory, and so
does everything a ``Fallback`` derives from ``exists``: which layer ``url()``
and ``open()`` use, and the ``path()`` probe. A name missing from a listed
directory costs no request at all. See ``storage_mixins.backends.listing`` for how
each kind of backend is listed.

When to list, and when to ask per file (the policy):

* A directory is listed the first time a fact about one of its files is not
  cached, in one request per 1,000 entries, once for every process that
  shares the cache however many threads and processes ask at the same time:
  one lists it, the others wait for its listing (at most
  ``single_flight.WAIT_SECONDS``; a lister that dies delays them
  ``single_flight.TAKEOVER_SECONDS``). Which layers are listed is the
  ``listings`` option: ``"auto"``, S3 only; ``True``, every layer that
  can be listed (not an ``HTTPStorage``: HTTP lists nothing); ``False``,
  none.
* A directory with more than ``listing_limit`` entries (files and
  subdirectories; :data:`LISTING_LIMIT` by default) is not kept: its files
  are asked about one by one, as without listings, and it is not listed
  again for ``timeout`` seconds. A directory of 100,000 objects costs five
  list requests per ``timeout``, then one request per file: never 100 for one
  ``exists()``.
* A write through the wrapper into a directory makes the listing of the
  layer it writes to stale (the listing carries the directory's version,
  which the write replaces): the next miss lists it again. A write never
  touches the listings of the other layers of a stack (production's), which
  no write through the stack can change.
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
layer ``N``), labelled with the directory's version (the write layer's) or
its outside version (the other layers', which only ``invalidate()``
replaces), so that every write through the wrapper makes the write layer's
listings of every directory above the name it writes stale, in every process
sharing the cache (see ``storage_mixins.services.metadata_cache``). That a
directory is too large, or failed to list, is kept as a note, which writes
leave. Answers derived from a listing are stored as per-file facts, so a warm
``exists`` hit is still one ``get``; whoever stores them learns how long the
listings they came from have left with :func:`watching_listings`.

How a listing is kept in the cache: ``storage_mixins.services.listing_codec``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from ..backends.errors import is_refusal, is_transport_error, likely_cause
from ..backends.listers import kind_of, lister_for
from ..backends.listing import ABSENT, DIRECTORY, UNKNOWN, Kind, ListdirLister
from ..backends.local import FileSystemLister
from ..backends.s3.listing import S3Lister
from ..core.labels import storage_label
from ..core.stack import invents_files, reads_are_the_backends
from .cache_keys import listing_fact
from .circuit_breaker import CircuitBreaker
from .keyed_locks import KeyedLocks
from .listing_codec import Decoded, decoded_listings, encode
from .metadata_cache import MetadataCache, Reservation
from .single_flight import GAVE_UP, one_in_the_fleet

__all__ = [
    "LISTING_LIMIT",
    "RETRY_AFTER",
    "UNLISTABLE_SECONDS",
    "Consulted",
    "LayerListings",
    "wants_listing",
    "watching_listings",
]

logger = logging.getLogger("storage_mixins.listing_cache")  # its name in 0.1.0, kept

#: Directories with more entries than this are answered per file.
LISTING_LIMIT = 5_000
#: Seconds without listing a layer that could not be reached.
RETRY_AFTER = 30.0
#: Seconds, at most, without listing a directory whose listing failed otherwise.
UNLISTABLE_SECONDS = 300.0
_TOO_MANY = "sm-listing:too-many"  # the cached fact of a directory over the limit
_UNLISTABLE = "sm-listing:unlistable"  # …of one whose listing failed

_locks = KeyedLocks()


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
    nothing but wrappers that pass reads through (``ReadOnly``, ``Caching``,
    ``Logging``), or a ``Fallback``, listed by its ``listdir()``. A wrapper of
    another kind may change what ``exists()`` means, and is asked per file.
    A backend that cannot be listed (``HTTPStorage``) is never listed, even
    with ``True``: nothing is tried, and nothing warned about.
    A storage that makes up files (``Placeholders``) has no listing to read.
    """
    if option is False or not reads_are_the_backends(storage) or invents_files(storage):
        return False
    lister = lister_for(storage)
    if option is True:
        return lister.lists
    return isinstance(lister, S3Lister)


# -- the listings of one layer -------------------------------------------------------


class LayerListings:
    """The cached listings of one layer's directories, and what they say.

    ``metadata`` holds them (as fact ``listing:position``); ``layer`` is the
    storage listed (through :func:`~storage_mixins.backends.listers.lister_for`,
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
            raise kind.missing(method, name, listing.not_a_directory)
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
            return None  # the cache failed: per file
        with _locks.hold(reservation.key):  # one listing at a time, per process…
            hit, value = metadata.get(self.fact, directory)
            if not hit:  # …and in the fleet: one process lists, the others wait
                value = one_in_the_fleet(
                    metadata,
                    f"{reservation.key}:{reservation.token}",  # this version's listing
                    cached=lambda: metadata.get(self.fact, directory),
                    compute=lambda: self._listed(directory, reservation),
                )
        return None if value is GAVE_UP else decoded_listings.get(value)

    def _listed(self, directory: str, reservation: Reservation) -> Any:
        """List ``directory`` now, and keep what the cache is to keep: the
        listing, or a note that says to ask per file (``None``: so does this
        call)."""
        metadata = self.metadata
        breaker = self.breaker
        if breaker is not None and not breaker.allow():
            return None  # the layer is down: reads skip it
        try:
            listing = self.kind.lister.list(directory, limit=self.limit)
        # Listing only saves requests: whatever it raises, the file is asked
        # about on its own, which raises what it would without listings.
        except Exception as exc:  # noqa: BLE001
            if self._failed(exc, directory):
                metadata.note(self.fact, directory, _UNLISTABLE, self.unlistable_for)
            return None
        if breaker is not None:
            breaker.succeeded()
        if not listing.complete:
            # Notes, not facts: how to read the directory, whatever is written.
            metadata.note(self.fact, directory, _TOO_MANY, self.timeout)
            return None
        lifetime = self.lifetime
        expires = None if lifetime is None else time.time() + lifetime
        encoded = encode(listing, self.kind, expires)
        if encoded is None:
            metadata.note(self.fact, directory, _UNLISTABLE, self.unlistable_for)
            return None
        metadata.add(reservation, encoded, lifetime)
        return encoded

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
        refused = isinstance(exc, NotImplementedError) or is_refusal(exc)
        with self._lock:
            warn = not self._warned
            self._warned = True
            if refused:
                self.off = _reason(exc)
        if refused and warn:
            cause = likely_cause(exc)  # by its code: bad credentials are no missing ListBucket
            hint = f" Likely cause: {cause}." if cause else ""
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


def _shorter(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)
