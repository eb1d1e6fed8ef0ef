"""Listing a backend's directories: what is there, in one request per 1,000 entries.

A *lister* is a small strategy object for one backend instance, with the same
three methods, each with one job:

* :meth:`~Lister.list` lists one directory's direct entries, optionally up to
  a cap (then the :class:`Listing` says it is incomplete);
* :meth:`~Lister.walk` yields every file under a directory, recursively;
* :meth:`~Lister.find` answers, for many names at once, which are files and
  what the listing knows of them: the batched existence check.

A *kind* says what a listing by that lister means for a read of the backend
(an S3 prefix is no object; a local directory exists), which reads a listing
may answer, and the error the backend raises for a missing file.

Here are the base classes and the lister of any backend (its ``listdir()``,
names only); each backend's own are with what else is known of it
(``backends.s3.listing``, ``backends.local``), and ``backends.listers``
picks one (:func:`~storage_mixins.backends.listers.lister_for`).

Names are as the storage takes them (relative to its root, ``/``-separated):
a lister honours the backend's ``location`` and its name normalisation, and
leaves out what no name can reach through the backend (an S3 key such as
``a//b``, directory markers ending in ``/``). Names are not validated here:
that is the caller's policy (``storage_mixins.core.names``).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..core.labels import storage_label
from .errors import is_not_found, not_found_types

__all__ = [
    "ABSENT",
    "ASK",
    "DIRECTORY",
    "PAGE_SIZE",
    "UNKNOWN",
    "UNKNOWN_SIZE",
    "Entry",
    "Kind",
    "ListdirLister",
    "Lister",
    "Listing",
    "base_of",
    "etag_of",
    "incomplete",
    "joined",
    "own_methods",
    "parent_of",
    "renamed",
]

# S3's page: at most 1,000 keys and common prefixes a ListObjectsV2 response.
PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Entry:
    """One file, as a listing describes it.

    ``name`` is its name in the storage. ``size`` (bytes), ``modified`` (an
    aware UTC datetime) and ``etag`` (S3's, without quotes) are ``None`` where
    the lister cannot tell: then only the file's existence is known.
    """

    name: str
    size: int | None = None
    modified: datetime.datetime | None = None
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """The direct entries of one directory.

    ``files`` maps each file's base name to its :class:`Entry`; ``directories``
    holds the base names of subdirectories. ``complete`` is ``False`` when the
    lister stopped at the caller's cap: then a name absent from the listing
    may still exist. A directory that does not exist lists as empty;
    ``not_a_directory`` then says whether a part of its path is a file
    (:class:`FileSystemLister`), where a filesystem answers ``NotADirectoryError``
    rather than ``FileNotFoundError`` for the names in it.
    """

    directory: str
    files: dict[str, Entry] = field(default_factory=dict)
    directories: list[str] = field(default_factory=list)
    complete: bool = True
    not_a_directory: bool = False

    def __len__(self) -> int:
        return len(self.files) + len(self.directories)


class Lister:
    """Lists one backend. Subclasses implement the three methods for their kind."""

    #: Which of ``Entry.size``, ``Entry.modified``, ``Entry.etag`` this lister fills in.
    knows: frozenset[str] = frozenset()

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def __repr__(self) -> str:
        return f"{type(self).__name__}({storage_label(self.backend)})"

    def list(self, directory: str = "", *, limit: int | None = None) -> Listing:
        """The direct entries of ``directory``, at most ``limit`` of them (files
        and directories together) if given, in one request per 1,000 entries."""
        raise NotImplementedError

    def walk(self, directory: str = "") -> Iterator[Entry]:
        """Every file under ``directory``, at any depth, in no particular order."""
        raise NotImplementedError

    def find(self, names: Iterable[str]) -> dict[str, Entry | None]:
        """Each of ``names`` and its :class:`Entry` if it is a file, else ``None``
        (missing, or a directory). Names are grouped by directory, and each
        directory is listed at most once."""
        by_directory: dict[str, set[str]] = {}
        for name in names:
            by_directory.setdefault(parent_of(name), set()).add(name)
        found: dict[str, Entry | None] = {}
        for directory, wanted in by_directory.items():
            files = self.list(directory).files
            for name in wanted:
                found[name] = files.get(base_of(name))
        return found


class ListdirLister(Lister):
    """Any other backend: its ``listdir()``. Entries have names only."""

    def list(self, directory: str = "", *, limit: int | None = None) -> Listing:
        directory = directory.strip("/")
        try:
            directories, files = self.backend.listdir(directory)
        except not_found_types() as exc:
            if not is_not_found(exc):
                raise
            return Listing(directory)
        listing = Listing(directory)
        for base in directories:
            if limit is not None and len(listing) >= limit:
                return incomplete(listing)
            listing.directories.append(base)
        for base in files:
            if limit is not None and len(listing) >= limit:
                return incomplete(listing)
            listing.files[base] = Entry(joined(directory, base))
        return listing

    def walk(self, directory: str = "") -> Iterator[Entry]:
        pending = [directory.strip("/")]
        while pending:
            listing = self.list(pending.pop())
            yield from listing.files.values()
            pending.extend(joined(listing.directory, base) for base in listing.directories)


UNKNOWN_SIZE = -1  # a name-only listing: the file exists, its size is not known
ASK = -2  # an entry a listing cannot vouch for (a dangling link): ask per file


class _Said:
    """What a listing says of a name, besides a file's ``(size, modified)``."""

    __slots__ = ("word",)

    def __init__(self, word: str) -> None:
        self.word = word

    def __repr__(self) -> str:
        return self.word


UNKNOWN = _Said("UNKNOWN")  # ask the storage
ABSENT = _Said("ABSENT")
DIRECTORY = _Said("DIRECTORY")


class Kind:
    """What a listing by one kind of lister says, and the errors its backend raises."""

    #: What ``exists()`` is for a directory: ``None``, ask the backend.
    directories_exist: bool | None = None
    #: The reads whose error for a missing file :meth:`missing` gives (others: ask).
    missing_methods: frozenset[str] = frozenset()

    def __init__(self, lister: Lister) -> None:
        self.lister = lister
        #: The reads a listing answers: those the backend's class has not
        #: overridden (an ``exists()`` that always says ``False``, to overwrite).
        self.answers = self.own_answers({"exists", *self.missing_methods})

    def own_answers(self, methods: set[str]) -> frozenset[str]:
        return frozenset(methods)

    def reaches(self, path: str, directory: str, base: str) -> bool:
        """Whether the backend reads ``path`` as ``base`` in the listing of ``directory``."""
        return True

    def modified(self, entry: Entry) -> datetime.datetime | None:
        return entry.modified

    def sizeless_entry(self) -> int:
        return UNKNOWN_SIZE

    def missing(self, method: str, name: str, not_a_directory: bool) -> BaseException:
        raise NotImplementedError


def own_methods(backend: Any, reference: type, methods: set[str]) -> frozenset[str]:
    """The ``methods`` that ``backend``'s class inherits from ``reference`` unchanged."""
    cls = type(backend)
    return frozenset(
        method for method in methods if getattr(cls, method, None) is getattr(reference, method)
    )


def incomplete(listing: Listing) -> Listing:
    return Listing(listing.directory, listing.files, listing.directories, complete=False)


def renamed(entry: Entry | None, name: str) -> Entry | None:
    if entry is None or entry.name == name:
        return entry
    return Entry(name, entry.size, entry.modified, entry.etag)


def etag_of(value: str | None) -> str | None:
    return value.strip('"') if value else None


def parent_of(name: str) -> str:
    return name.rpartition("/")[0]


def base_of(name: str) -> str:
    return name.rpartition("/")[2]


def joined(directory: str, base: str) -> str:
    return f"{directory}/{base}" if directory else base
