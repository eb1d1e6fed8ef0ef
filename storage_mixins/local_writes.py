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
from typing import TypeGuard

from django.core.files.storage import FileSystemStorage, Storage

from .labels import storage_label

__all__ = ["LocalWriteGuard"]


class LocalWriteGuard:
    """The real-path check of writes to ``write_layer``, against ``other_layers``."""

    __slots__ = ("layer", "others")

    def __init__(self, write_layer: FileSystemStorage, other_layers: Iterable[Storage]) -> None:
        self.layer = write_layer
        self.others = tuple(layer for layer in other_layers if is_local(layer))

    @classmethod
    def for_stack(
        cls, write_layer: Storage | None, layers: Iterable[Storage]
    ) -> LocalWriteGuard | None:
        """The guard a stack with these layers needs, or ``None`` (a remote write layer)."""
        if write_layer is None or not is_local(write_layer):
            return None
        return cls(write_layer, [layer for layer in layers if layer is not write_layer])

    def saves_follow_links(self) -> bool:
        """Whether the write layer's ``_save`` follows a link at the name itself.

        ``FileSystemStorage._save`` creates the file with ``O_EXCL``, which
        refuses an existing name, link or not, and moves temporary uploads with
        a rename, which replaces a link rather than follow it: unless it
        overwrites (``allow_overwrite=True``) or is overridden.
        """
        layer = self.layer
        # django-stubs declare no _save (every backend has one).
        return type(layer)._save is not FileSystemStorage._save or bool(  # type: ignore[attr-defined]
            getattr(layer, "_allow_overwrite", False)
        )

    def refusal(self, name: str, *, follow_last: bool = True) -> tuple[bool, str] | None:
        """Why a write of ``name`` must not happen, or ``None`` if it may.

        The answer is ``(inside_another_layer, reason)``. ``follow_last=False``
        is for a delete, which removes a link itself rather than its target.
        """
        root: str = self.layer.location  # type: ignore[assignment]  # abspath()'s str; django-stubs say StrPath
        # The name is validated already (relative, no ".."): its parts are
        # joined by hand, as FileSystemStorage.path() would, but cheaply.
        parts = [part for part in name.split("/") if part not in ("", ".")]
        linked = _goes_through_a_link(root, parts, follow_last)
        if not linked and not self.others:
            return None  # the common case: no link, no other local layer
        if linked:
            real = _real_path(os.path.join(root, *parts), follow_last)
        else:
            real = os.path.join(os.path.realpath(root), *parts)
        how = " (through a symlink)" if linked else ""
        for other in self.others:
            if _is_inside(real, os.path.realpath(other.location)):
                return True, (
                    f"its real path {real!r}{how} is inside the location of "
                    f"{storage_label(other)}, and writes never reach another layer"
                )
        real_root = os.path.realpath(root)
        if linked and not _is_inside(real, real_root):
            return False, (
                f"its real path {real!r}{how} is outside the write layer's location {real_root!r}"
            )
        return None


def is_local(storage: object) -> TypeGuard[FileSystemStorage]:
    """Whether ``storage`` (or the storage a wrapper proxies) keeps files in a
    local directory that writes could reach through the OS."""
    return isinstance(storage, FileSystemStorage)


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
