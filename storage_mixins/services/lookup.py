"""Which layer serves each of many names: ``Fallback.which`` in batches, from listings.

``Fallback.which(name)`` asks each layer's ``exists()`` in turn: one request a
name and a remote layer. :class:`Locator` gives the same answer for a batch of
names with each layer's :class:`~storage_mixins.backends.listing.Lister`: a local
layer costs a ``stat`` a name, and S3 one request per 1,000 listed entries
(see :meth:`~storage_mixins.backends.s3.listing.S3Lister.find`). Only the names no layer
before has are asked of the next layer. Nothing is written. A layer that makes
up files (``Placeholders``) serves none: its files exist nowhere, and
:meth:`Locator.stands_in` says which missing names it stands in for.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.core.files.storage import Storage

from ..backends.listers import lister_for
from ..backends.listing import Entry, Lister
from ..core.stack import find_router, invents_files

__all__ = ["Location", "Locator"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a name is served from: the layer (and its index), and what its
    listing knows of the file."""

    index: int
    layer: Storage
    entry: Entry


class Locator:
    """The layers of ``storage`` (a stack's, or the storage itself as its only
    layer), and which of them serve a batch of names.

    Names are answered as files: a directory of that name serves nothing.
    Under ``on_delete="hide"``, a name with a tombstone is served by no layer
    (:meth:`is_hidden` says why).
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.fallback = find_router(storage)
        self.layers: tuple[Storage, ...] = (
            self.fallback.layers if self.fallback is not None else (storage,)
        )
        self.listers: tuple[Lister, ...] = tuple(lister_for(layer) for layer in self.layers)
        self._tombstones = None if self.fallback is None else self.fallback.tombstones
        #: The layer that makes up files, if any (``Placeholders``, last).
        self.placeholders = next((layer for layer in self.layers if invents_files(layer)), None)

    @property
    def write_layer(self) -> Storage | None:
        """The stack's write layer, ``None`` for a read-only stack or a plain storage."""
        return None if self.fallback is None else self.fallback.write_layer

    def is_hidden(self, name: str) -> bool:
        """Whether a tombstone hides ``name`` (``on_delete="hide"``)."""
        return self._tombstones is not None and name in self._tombstones

    def stands_in(self, name: str) -> bool:
        """Whether the placeholder layer makes up ``name``, which no layer has."""
        return self.placeholders is not None and bool(self.placeholders.exists(name))

    def locate(
        self, names: Iterable[str], *, among: Collection[int] | None = None
    ) -> dict[str, Location | None]:
        """Each name and the first layer (of all, or of those whose indexes are in
        ``among``) that has it as a file, or ``None``: never the placeholders'."""
        located: dict[str, Location | None] = {}
        remaining = []
        for name in names:
            if self.is_hidden(name):
                located[name] = None
            else:
                remaining.append(name)
        for index, (layer, lister) in enumerate(zip(self.layers, self.listers, strict=True)):
            if not remaining:
                break
            if (among is not None and index not in among) or layer is self.placeholders:
                continue
            found = lister.find(remaining)
            still = []
            for name in remaining:
                entry = found.get(name)
                if entry is None:
                    still.append(name)
                else:
                    located[name] = Location(index, layer, entry)
            remaining = still
        for name in remaining:
            located[name] = None
        return located
