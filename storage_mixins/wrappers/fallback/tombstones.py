"""Tombstones: names deleted through a stack that live on in read-only layers.

With ``Fallback(..., on_delete="hide")``, deleting such a name records a
tombstone, an empty marker file in the *write layer* under a reserved prefix,
so every process that uses the same write layer sees it, across restarts.
From then on the stack answers as if the file did not exist, until the name is
written again. The read-only layers are never touched.

A marker's path is the name with every part but the last followed by ``~d``
and the last by ``~f`` (``a/b`` → ``a~d/b~f``), so that no marker is ever the
directory of another: hiding ``a/b`` hides nothing of ``a``, and ``a`` and
``a/b`` can both be hidden in a filesystem. Markers are read and written in
the write layer's own backend, beneath any wrapper (a ``Caching`` write layer
would remember a marker's absence). Names come to this module in the one
spelling of ``storage_mixins.core.names``.

For a local write layer a check is one ``stat``; for a remote one the
tombstones are listed once and kept in memory, reloaded after
``refresh_after`` seconds (changes made through this process apply at once,
and survive a reload that was already under way when they were made).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from ...backends.listers import lister_for
from ...backends.local import is_local
from ...backends.local_files import Modes, write_atomically
from ...core.names import RESERVED_DIRECTORY
from ...core.stack import innermost

__all__ = ["TOMBSTONE_PREFIX", "Tombstones", "marker_name", "name_of_marker"]

TOMBSTONE_PREFIX = f"{RESERVED_DIRECTORY}/tombstones/"
_DIRECTORY, _FILE, _HASHED = "~d", "~f", "~h"
_MAX_PART_BYTES = 255
# S3 takes keys of up to 1,024 bytes, the write layer's location prefix included.
_MAX_MARKER_BYTES = 1024 - 128


def marker_name(name: str) -> str:
    """The name, in the write layer, of the marker that hides ``name``."""
    *directories, last = name.split("/")
    marker = (
        TOMBSTONE_PREFIX
        + "".join(f"{_part(part, _DIRECTORY)}/" for part in directories)
        + _part(last, _FILE)
    )
    if len(marker.encode("utf-8")) > _MAX_MARKER_BYTES:
        # Longer than S3 takes under a location prefix: one hashed part.
        return TOMBSTONE_PREFIX + _part(name, _FILE, hashed=True)
    return marker


def name_of_marker(marker: str) -> str | None:
    """The name that ``marker`` (a name under the reserved prefix) hides, or
    ``None`` if it is no marker, or if it is one whose name is in its contents
    (a part too long to be written out, see :func:`_part`)."""
    if not marker.startswith(TOMBSTONE_PREFIX):
        return None
    *directories, last = marker[len(TOMBSTONE_PREFIX) :].split("/")
    parts = [*directories, last]
    if not last.endswith(_FILE) or not all(part.endswith(_DIRECTORY) for part in directories):
        return None
    if any(part.startswith(_HASHED) for part in parts):
        return None
    return "/".join([*(part[: -len(_DIRECTORY)] for part in directories), last[: -len(_FILE)]])


def _part(part: str, suffix: str, *, hashed: bool = False) -> str:
    # A part that the suffix would make too long for a filesystem (or that
    # looks like a hashed one) is written as a hash; the marker then holds the
    # name itself, for listings.
    if (
        hashed
        or part.startswith(_HASHED)
        or len(part.encode("utf-8")) + len(suffix) > _MAX_PART_BYTES
    ):
        digest = hashlib.blake2b(part.encode("utf-8"), digest_size=16).hexdigest()
        return f"{_HASHED}{digest}{suffix}"
    return f"{part}{suffix}"


def _contents(name: str, marker: str) -> bytes:
    return name.encode("utf-8") if _HASHED in marker else b""


class Tombstones:
    """The tombstones kept in ``write_layer``.

    ``before_write(operation, marker, follow_last=...)`` is called before a
    marker is created or removed, and may refuse by raising (the stack's check
    that a local write does not go through a symlink).
    """

    def __init__(
        self,
        write_layer: Storage,
        refresh_after: float = 30.0,
        before_write: Callable[..., None] | None = None,
    ) -> None:
        self.layer = write_layer
        # Any: a FileSystemStorage (whose .location the checks read) exactly
        # when self.local, which mypy cannot tie to it.
        self.backend: Any = innermost(write_layer)
        self.local = is_local(self.backend)
        self.refresh_after = refresh_after
        self._before_write = before_write
        self._lock = threading.Lock()
        self._names: set[str] | None = None
        self._loaded_at = 0.0
        # This process's own changes, numbered, so that a reload that began
        # before one of them cannot undo it (remote layers only).
        self._sequence = 0
        self._changes: list[tuple[int, str, bool]] = []
        self._listing: list[int] = []  # the sequences at which listings under way began
        self._installed = -1  # that of the listing in memory

    def __contains__(self, name: str) -> bool:
        if self.local:
            return os.path.isfile(os.path.join(self.backend.location, marker_name(name)))
        return name in self._remembered()

    def add(self, name: str) -> None:
        marker = marker_name(name)
        if self._before_write is not None:
            self._before_write("delete", marker)
        contents = _contents(name, marker)
        if self.local:
            # As the write layer saves (its modes); several processes may write it at once.
            modes = Modes.of(self.backend)
            write_atomically(self.backend.path(marker), iter([contents]), modes=modes)
        else:
            self.backend._save(marker, ContentFile(contents))
        self._changed(name, present=True)

    def discard(self, name: str) -> None:
        """Clear ``name``'s tombstone, if it has one.

        On a remote write layer the marker is deleted whether or not this
        process knows of it (a delete of a missing object is harmless): another
        process may have hidden the name since this one last listed them.
        """
        marker = marker_name(name)
        if self.local:
            path = os.path.join(self.backend.location, marker)
            if os.path.lexists(path):
                if self._before_write is not None:
                    self._before_write("delete", marker, follow_last=False)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
        else:
            self.backend.delete(marker)
        self._changed(name, present=False)

    def names(self) -> list[str]:
        """Every tombstoned name, freshly listed."""
        with self._lock:
            started = self._sequence
            self._listing.append(started)
        try:
            found = set(self._list_markers())
        finally:
            with self._lock:
                self._listing.remove(started)
        with self._lock:
            # Changes made while the listing ran may be missing from it.
            for sequence, name, present in self._changes:
                if sequence > started:
                    (found.add if present else found.discard)(name)
            # Keep what a listing still under way may miss, and never let an
            # older listing replace a newer one.
            oldest = min([started, *self._listing])
            self._changes = [change for change in self._changes if change[0] > oldest]
            if started >= self._installed:
                self._names, self._loaded_at, self._installed = found, time.monotonic(), started
        return sorted(found)

    def _remembered(self) -> set[str]:
        names = self._names
        if names is None or time.monotonic() - self._loaded_at > self.refresh_after:
            self.names()
            names = self._names
        assert names is not None
        return names

    def _changed(self, name: str, *, present: bool) -> None:
        if self.local:
            return  # the markers on disk are the truth, read at every check
        with self._lock:
            self._sequence += 1
            self._changes.append((self._sequence, name, present))
            if self._names is not None:
                (self._names.add if present else self._names.discard)(name)

    def _list_markers(self) -> Iterator[str]:
        for entry in lister_for(self.backend).walk(TOMBSTONE_PREFIX.rstrip("/")):
            marker = entry.name
            name = name_of_marker(marker)
            if name is None and _HASHED in marker:
                with self.backend.open(marker, "rb") as handle:
                    name = handle.read().decode("utf-8") or None
            if name is not None and marker_name(name) == marker:
                yield name
