"""Tombstones: names deleted through a stack that live on in read-only layers.

With ``Fallback(..., on_delete="hide")``, deleting such a name records a
tombstone, an empty marker file in the *write layer* under a reserved prefix,
so every process that uses the same write layer sees it, across restarts.
From then on the stack answers as if the file did not exist, until the name is
written again. The read-only layers are never touched.

For a local write layer a check is one ``stat``; for a remote one the
tombstones are listed once and kept in memory, reloaded after
``refresh_after`` seconds (changes made through this process apply at once).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.core.files.base import ContentFile

__all__ = ["RESERVED_DIRECTORY", "TOMBSTONE_PREFIX", "Tombstones"]

RESERVED_DIRECTORY = ".storage-mixins"
TOMBSTONE_PREFIX = f"{RESERVED_DIRECTORY}/tombstones/"


class Tombstones:
    """The tombstones kept in ``write_layer``.

    ``before_write(operation, marker, follow_last=...)`` is called before a
    marker is created or removed, and may refuse by raising (the stack's check
    that a local write does not go through a symlink).
    """

    def __init__(
        self,
        write_layer: Any,
        refresh_after: float = 30.0,
        before_write: Callable[..., None] | None = None,
    ) -> None:
        self.layer = write_layer
        self._before_write = before_write
        self.refresh_after = refresh_after
        self._lock = threading.Lock()
        self._names: set[str] | None = None
        self._loaded_at = 0.0
        try:
            write_layer.path("")
        except (NotImplementedError, AttributeError):
            self.local = False
        else:
            self.local = True

    def __contains__(self, name: str) -> bool:
        if self.local:
            return bool(self.layer.exists(TOMBSTONE_PREFIX + name))
        return name in self._remembered()

    def add(self, name: str) -> None:
        marker = TOMBSTONE_PREFIX + name
        if self._before_write is not None:
            self._before_write("delete", marker)
        if self.local:
            path = self.layer.path(marker)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "ab"):
                pass  # an empty marker; several processes may write it at once
        else:
            self.layer._save(marker, ContentFile(b""))
        self._update(name, present=True)

    def discard(self, name: str) -> None:
        marker = TOMBSTONE_PREFIX + name
        if (self.local or name in self._remembered()) and self.layer.exists(marker):
            if self._before_write is not None:
                self._before_write("delete", marker, follow_last=False)
            self.layer.delete(marker)
        self._update(name, present=False)

    def names(self) -> list[str]:
        """Every tombstoned name, freshly listed."""
        found = sorted(self._list(TOMBSTONE_PREFIX.rstrip("/")))
        with self._lock:
            self._names, self._loaded_at = set(found), time.monotonic()
        return found

    def _remembered(self) -> set[str]:
        names = self._names
        if names is None or time.monotonic() - self._loaded_at > self.refresh_after:
            self.names()
            names = self._names
        assert names is not None
        return names

    def _update(self, name: str, *, present: bool) -> None:
        with self._lock:
            if self._names is not None:
                (self._names.add if present else self._names.discard)(name)

    def _list(self, directory: str) -> Iterator[str]:
        try:
            directories, files = self.layer.listdir(directory)
        except FileNotFoundError:
            return
        for file in files:
            yield f"{directory}/{file}"[len(TOMBSTONE_PREFIX) :]
        for child in directories:
            yield from self._list(f"{directory}/{child}")
