"""Names a stack routes specially (absolute paths, the root), and local paths.

Django's own callers give a storage two kinds of names that name no file in
it: ``collectstatic`` asks ``exists(storage.location)`` and ``path("")`` (is
the storage local?). An absolute path inside a local layer's ``location``
goes to that layer, as ``FileSystemStorage`` accepts it, a write only to the
write layer; any other absolute path is refused, since S3 would make it
relative. ``""`` is the root directory.

``path()`` gives a local path only where writing through it could not reach
another layer (callers write through paths: ``collectstatic --link``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, Storage

from ...backends.local import is_local
from ...core import hooks
from ...core.labels import storage_label
from ...core.names import AbsoluteName, RootName, UnusualName, file_name, has_control_characters
from .routing import Router, holds_no_file, labels
from .tombstones import Tombstones
from .writes import WritePolicy

__all__ = ["Paths"]


class Paths:
    """The unusual names and local paths of ``stack``."""

    def __init__(
        self,
        stack: Any,  # the Fallback
        layers: tuple[Storage, ...],
        write_layer: Storage | None,
        *,
        router: Router,
        writes: WritePolicy,
        tombstones: Tombstones | None,
    ) -> None:
        self.stack = stack
        self.layers = layers
        self.write_layer = write_layer
        self.router = router
        self.writes = writes
        self.tombstones = tombstones

    def reading_through(self, router: Router) -> Paths:
        """These paths, with layers found by ``router`` (see ``Fallback.reading_through``)."""
        view = copy.copy(self)
        view.router = router
        return view

    def exists(self, unusual: UnusualName) -> bool:
        """The stack's ``exists()`` of an absolute path or the root."""
        if isinstance(unusual, RootName):  # the root directory, as collectstatic --clear asks
            return bool(self.stack.__wrapped__.exists(""))
        return bool(self.absolute("exists", unusual.name, (), {}, writes=False))

    def path(self, name: str) -> str:
        """The stack's ``path(name)``: the first layer that has the file and
        gives local paths; for a missing file, the write layer's."""
        try:
            name = file_name(name)
        except RootName:
            return self.root_path()
        except AbsoluteName as absolute:
            found: str = self.absolute("path", absolute.name, (), {}, writes=False)
            return found
        if self.tombstones is not None and name in self.tombstones:
            return self.missing_path(name)
        holders_without_paths = []
        for route in self.router.routes:
            layer = route.layer
            if not route.reader.exists(name) or (route.local and holds_no_file(layer, name)):
                continue
            layer_path: Callable[[str], str] | None = getattr(layer, "path", None)
            if layer_path is not None:
                if layer is self.write_layer:
                    self.refuse_path_through_link(name)
                try:
                    found = layer_path(name)
                except NotImplementedError:
                    pass
                else:
                    hooks.layer_answered(self.stack, layer)
                    return found
            holders_without_paths.append(layer)
        if holders_without_paths:
            raise NotImplementedError(
                f"{name!r} exists only in layers without local paths: "
                f"{labels(holders_without_paths)}"
            )
        return self.missing_path(name)

    def unusual(self, method: str, unusual: UnusualName, *args: Any, writes: bool = False,
                 **kwargs: Any) -> Any:  # fmt: skip
        """A method that takes a file name was given an absolute path or the root."""
        if isinstance(unusual, AbsoluteName):
            return self.absolute(method, unusual.name, args, kwargs, writes=writes)
        raise SuspiciousFileOperation(f"Could not derive file name from {unusual.name!r}")

    def absolute(
        self, method: str, path: str, args: tuple[Any, ...], kwargs: dict[str, Any], *,
        writes: bool,
    ) -> Any:  # fmt: skip
        """An absolute path inside a local layer's ``location`` goes to that layer,
        as ``FileSystemStorage`` accepts it (``collectstatic`` asks
        ``exists(storage.location)``), a write only to the write layer; any
        other absolute path is refused, since S3 would make it relative."""
        owner = self._local_layer_owning(path, writes=writes)
        if owner is None:
            raise SuspiciousFileOperation(f"Detected path traversal attempt in {path!r}")
        relative = os.path.relpath(os.path.normpath(path), owner.location)
        if writes:
            # The write layer's name: the stack's own rules apply to it
            # (tombstones, on_delete, the symlink guard…).
            return getattr(self.stack, method)(relative, *args, **kwargs)
        if method == "path" and owner is self.write_layer and relative != ".":
            self.refuse_path_through_link(relative)
        return getattr(owner, method)(path, *args, **kwargs)

    def _local_layer_owning(self, path: str, *, writes: bool) -> FileSystemStorage | None:
        """The local layer whose ``location`` holds ``path`` (for a write, only
        the write layer), or ``None``."""
        if has_control_characters(path):
            return None
        path = os.path.normpath(path)
        candidates = [self.write_layer] if writes else self.layers
        for layer in candidates:
            if not is_local(layer):
                continue  # e.g. S3: its "location" is a key prefix
            root = os.path.normpath(layer.location)
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                return layer
        return None

    def root_path(self) -> str:
        # Django (collectstatic) asks path("") to learn whether a storage is
        # local. The stack is local only if every layer is: otherwise Django
        # must use the storage API, not paths, for every file.
        for layer in self.layers:
            layer_path = getattr(layer, "path", None)
            if layer_path is None:
                raise NotImplementedError(f"{storage_label(layer)} gives no local paths")
            layer_path("")
        root: str = self.stack.__wrapped__.path("")
        return root

    def missing_path(self, name: str) -> str:
        """Where a new file ``name`` would be: the write layer's path."""
        proxied = self.stack.__wrapped__
        if proxied is self.write_layer:
            self.refuse_path_through_link(name)
        path: str = proxied.path(name)
        return path

    def refuse_path_through_link(self, name: str) -> None:
        # Callers write through paths (collectstatic --link): like ReadOnly,
        # give none that a write through the stack would be refused.
        # Only a path into another layer: a link out of the stack (what
        # collectstatic --link made on its last run) is the caller's to replace.
        refusal = self.writes.link_refusal(name)
        if refusal is not None and refusal[0]:
            raise NotImplementedError(
                f"{self.stack!r} gives no local path for {name!r}: {refusal[1]}. "
                "Read the file with open()."
            )
