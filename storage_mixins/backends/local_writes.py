"""Where a write to a local write layer really lands, checked before it happens.

``FileSystemStorage`` follows symlinks. With ``media/shared`` linked to
production's directory (as in the staticfiles recipe), ``save("shared/x.jpg")``
would write into production and ``delete("shared/a.jpg")`` would delete
production's file. So before a :class:`~storage_mixins.Fallback` lets a write
reach a local write layer, :class:`LocalWriteGuard` checks the write's real
target: it must be inside the write layer's ``location``, and outside the
``location`` of every other local layer of the stack.

The check costs one ``lstat`` per part of the name while no part is a symlink
(then the target is inside ``location`` by construction); only a name that goes
through a link pays for ``os.path.realpath``, and only a stack with more than
one local layer compares real locations. It sees the paths as they are when the
write starts: a link made between the check and the write, by another program,
is not covered.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from django.core.files.storage import FileSystemStorage, Storage

from ..core.labels import storage_label
from ..core.stack import leaves, write_backend
from .local import is_local
from .local_files import Modes, write_atomically

__all__ = ["LocalWriteGuard"]


class LocalWriteGuard:
    """The real-path check of writes to ``write_layer``, against ``other_layers``:
    every local backend in them (beneath their wrappers, in every layer of a
    nested stack), except the one the writes go to."""

    __slots__ = ("layer", "others", "saves_follow_links")

    def __init__(self, write_layer: FileSystemStorage, other_layers: Iterable[Storage]) -> None:
        self.layer = write_layer
        self.saves_follow_links = _saves_follow_links(write_layer)
        target = write_backend(write_layer)
        # Each local backend, with the layer to name in messages.
        self.others = tuple(
            (backend, layer)
            for layer in [write_layer, *other_layers]
            for backend in leaves(layer)
            if is_local(backend)
            if backend is not target
        )

    @classmethod
    def for_stack(
        cls, write_layer: Storage | None, layers: Iterable[Storage]
    ) -> LocalWriteGuard | None:
        """The guard a stack with these layers needs, or ``None`` (a remote write layer)."""
        if write_layer is None or not is_local(write_layer):
            return None
        return cls(write_layer, [layer for layer in layers if layer is not write_layer])

    def separate(self, name: str, *, keep_contents: bool) -> None:
        """Before a write that changes the file ``name`` in place (open with
        ``w``, ``a`` or ``+``, an overwriting ``_save``): give it an inode of its
        own if it has other hard links. A copy made with ``cp -al`` or ``rsync
        --link-dest`` shares production's inode, which a write in place would
        change. ``keep_contents`` copies the bytes over first (atomically);
        otherwise the link is removed, and the write creates a new file."""
        path = os.path.join(self.layer.location, *_parts(name))
        try:
            status = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        if not stat.S_ISREG(status.st_mode) or status.st_nlink < 2:
            return
        if not keep_contents:
            os.unlink(path)
            return
        modes = Modes(file=stat.S_IMODE(status.st_mode))  # the file's own, not a new file's
        with open(path, "rb") as original:
            chunks = iter(lambda: original.read(1024 * 1024), b"")
            write_atomically(path, chunks, status.st_mtime, modes=modes)

    def refusal(self, name: str, *, follow_last: bool = True) -> tuple[bool, str] | None:
        """Why a write of ``name`` must not happen, or ``None`` if it may.

        The answer is ``(inside_another_layer, reason)``. ``follow_last=False``
        is for a delete, which removes a link itself rather than its target.
        """
        root: str = self.layer.location  # type: ignore[assignment]  # abspath()'s str; django-stubs say StrPath
        # The name is validated already (relative, no ".."): its parts are
        # joined by hand, as FileSystemStorage.path() would, but cheaply.
        parts = _parts(name)
        linked = _goes_through_a_link(root, parts, follow_last)
        if not linked and not self.others:
            return None  # the common case: no link, no other local layer
        if linked:
            real = _real_path(os.path.join(root, *parts), follow_last)
        else:
            real = os.path.join(os.path.realpath(root), *parts)
        how = " (through a symlink)" if linked else ""
        for backend, layer in self.others:
            if _is_inside(real, os.path.realpath(backend.location)):
                return True, (
                    f"its real path {real!r}{how} is inside the location of "
                    f"{storage_label(layer)}, and writes never reach another layer"
                )
        real_root = os.path.realpath(root)
        if linked and not _is_inside(real, real_root):
            return False, (
                f"its real path {real!r}{how} is outside the write layer's location {real_root!r}"
            )
        return None


def _goes_through_a_link(root: str, parts: list[str], follow_last: bool) -> bool:
    path = root
    for part in parts if follow_last else parts[:-1]:
        path = f"{path}{os.sep}{part}"
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return False  # nothing below exists yet, so no link either
        if stat.S_ISLNK(mode):
            return True
    return False


def _real_path(target: str, follow_last: bool) -> str:
    if follow_last:
        return os.path.realpath(target)
    directory, last = os.path.split(target)
    return os.path.join(os.path.realpath(directory), last)


def _is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _parts(name: str) -> list[str]:
    return [part for part in name.split("/") if part not in ("", ".")]


def _saves_follow_links(layer: FileSystemStorage) -> bool:
    """Whether the write layer's ``_save`` follows a link at the name itself.

    ``FileSystemStorage._save`` creates the file with ``O_EXCL``, which
    refuses an existing name, link or not, and moves temporary uploads with
    a rename, which replaces a link rather than follow it: unless it
    overwrites (``allow_overwrite=True``) or is overridden.
    """
    # django-stubs declare no _save (every backend has one).
    overridden = type(layer)._save is not FileSystemStorage._save  # type: ignore[attr-defined]
    # Subclasses set the flags as an attribute before Django 5.1; 5.2 still
    # honours it (deprecated, gone in 6.0).
    exclusive = getattr(layer, "OS_OPEN_FLAGS", os.O_EXCL) & os.O_EXCL
    return overridden or not exclusive or bool(getattr(layer, "_allow_overwrite", False))
