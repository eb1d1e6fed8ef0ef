"""What a directory listing says of a name, for each kind of backend.

A listing by ``storage_mixins.listings`` says which files and subdirectories a
directory has; what that means for a read depends on the backend. On S3 a
prefix is no object (``exists("photos")`` is ``False``, as a ``HEAD`` says)
and times are whole seconds in a ``HEAD``; on a filesystem a directory exists
and has a size of its own, and a missing file raises ``NotADirectoryError``
when a part of its path is a file; a backend listed by ``listdir()`` gives
names only. Each *kind* here knows that, which reads a listing may answer
(those the backend's class keeps as its base class's own), and the error the
backend raises for a missing file, so that an answer from a listing is the
answer the backend would give.
"""

from __future__ import annotations

import datetime
import errno
import os
from typing import TYPE_CHECKING, Any, cast

from .listings import Entry, FileSystemLister, Lister, S3Lister

if TYPE_CHECKING:
    from .listing_cache import Decoded

__all__ = ["ABSENT", "ASK", "DIRECTORY", "UNKNOWN", "UNKNOWN_SIZE", "Kind", "kind_of",
           "plain_s3_backend"]  # fmt: skip

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
        self.answers = self._own({"exists", *self.missing_methods})

    def _own(self, methods: set[str]) -> frozenset[str]:
        return frozenset(methods)

    def reaches(self, path: str, directory: str, base: str) -> bool:
        """Whether the backend reads ``path`` as ``base`` in the listing of ``directory``."""
        return True

    def modified(self, entry: Entry) -> datetime.datetime | None:
        return entry.modified

    def sizeless_entry(self) -> int:
        return UNKNOWN_SIZE

    def missing(self, method: str, name: str, listing: Decoded) -> BaseException:
        raise NotImplementedError


class S3Kind(Kind):
    """``S3Storage``: keys, with sizes and times. A prefix is no object, so a
    "directory" is missing, as ``S3Storage.exists()`` (a HEAD) says."""

    directories_exist = False
    missing_methods = frozenset({"size", "get_modified_time", "open", "_open"})
    lister: S3Lister

    def _own(self, methods: set[str]) -> frozenset[str]:
        from storages.backends.s3 import S3Storage

        return own_methods(self.lister.backend, S3Storage, methods)

    def reaches(self, path: str, directory: str, base: str) -> bool:
        from django.core.exceptions import SuspiciousOperation

        try:  # clean_name reads a backslash as a slash, for one
            return self.lister._key(path) == self.lister._prefix(directory) + base
        except SuspiciousOperation:
            return False

    def modified(self, entry: Entry) -> datetime.datetime | None:
        # A HEAD gives whole seconds (an HTTP date); a listing, milliseconds.
        return None if entry.modified is None else entry.modified.replace(microsecond=0)

    def missing(self, method: str, name: str, listing: Decoded) -> BaseException:
        key = self.lister._key(name)
        if method == "get_modified_time":  # boto3's own, from the HEAD it sends
            from botocore.exceptions import ClientError

            response = {"Error": {"Code": "404", "Message": "Not Found"},
                        "ResponseMetadata": {"HTTPStatusCode": 404}}  # fmt: skip
            return ClientError(cast(Any, response), "HeadObject")
        return FileNotFoundError(f"File does not exist: {key}")


class FileSystemKind(Kind):
    """``FileSystemStorage``: files with sizes and times; a directory exists."""

    directories_exist = True
    missing_methods = frozenset(
        {"size", "get_modified_time", "get_accessed_time", "get_created_time", "open", "_open"}
    )
    lister: FileSystemLister

    def _own(self, methods: set[str]) -> frozenset[str]:
        from django.core.files.storage import FileSystemStorage

        return own_methods(self.lister.backend, FileSystemStorage, methods)

    def sizeless_entry(self) -> int:
        return ASK  # a dangling link, or a file that could not be stat'ed

    def missing(self, method: str, name: str, listing: Decoded) -> BaseException:
        code = errno.ENOTDIR if listing.not_a_directory else errno.ENOENT
        error = NotADirectoryError if listing.not_a_directory else FileNotFoundError
        return error(code, os.strerror(code), self.lister.backend.path(name))


def own_methods(backend: Any, reference: type, methods: set[str]) -> frozenset[str]:
    """The ``methods`` that ``backend``'s class inherits from ``reference`` unchanged."""
    cls = type(backend)
    return frozenset(
        method for method in methods if getattr(cls, method, None) is getattr(reference, method)
    )


def kind_of(lister: Lister) -> Kind:
    if isinstance(lister, S3Lister):
        return S3Kind(lister)
    if isinstance(lister, FileSystemLister):
        return FileSystemKind(lister)
    return Kind(lister)


_OPENS = {"open", "_open"}


def plain_s3_backend(layer: Any) -> Any | None:
    """The ``S3Storage`` under ``layer`` if only ``ReadOnly`` wraps it and it
    keeps django-storages' own ``open`` and ``_open``; otherwise ``None``."""
    from .readonly import ReadOnly

    storage = layer
    while type(storage) is ReadOnly:
        storage = storage.__wrapped__
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:
        return None
    plain = isinstance(storage, S3Storage) and len(own_methods(storage, S3Storage, _OPENS)) == 2
    return storage if plain else None
