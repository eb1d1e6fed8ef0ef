"""The write side of a :class:`~storage_mixins.Fallback`: where each write goes,
and what it must not do.

Every write goes to the write layer and nowhere else, and must stay visible and
harmless (Linux's OverlayFS is the model):

* a write to a name that a read-only layer *before* the write layer serves
  would be invisible: ``ReadOnlyError``;
* a write to a local write layer whose real path, through a symlink, is in
  another layer or outside the write layer: refused (see ``local_writes``);
* a mode that must create the file (``x``) of a name another layer has:
  ``FileExistsError``, as the raw storage would raise;
* a mode that keeps the contents (``a``, ``+``) of a file that only a later
  layer has: the file is copied up first, streamed;
* a write clears the name's tombstone, if any.

``delete`` follows the stack's ``on_delete`` policy for copies in layers that
are not written to. Writes never skip a layer that is down: every layer is
asked directly, not through its circuit breaker.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from contextvars import ContextVar
from typing import IO, Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import Storage

from ...backends.local import is_directory, is_local, make_parent_directory
from ...backends.local_files import Taken
from ...backends.local_writes import LocalWriteGuard
from ...core import hooks
from ...core.errors import ReadOnlyError
from ...core.labels import storage_label
from ...core.names import validate_name
from ...services.streaming import copy_file
from ...services.write_views import own_method
from .notes import note_layer
from .routing import labels
from .tombstones import Tombstones

__all__ = ["WritePolicy", "name_is_free", "save_through"]

logger = logging.getLogger("storage_mixins.fallback")

# Set while a Fallback's save() runs Django's template: the name was chosen
# free in every layer, so no layer before the write layer can hide it.
name_is_free: ContextVar[bool] = ContextVar("storage_mixins_name_is_free", default=False)


def save_through(stack: Any, name: str, content: IO[Any], max_length: int | None) -> str:
    """Django's ``Storage.save`` with ``stack`` as ``self``: its
    ``get_available_name``, then its ``_save``.

    Django checks the name with ``validate_file_name`` before, between and
    after (three pathlib parses a save). The caller has checked ``name``; the
    name chosen and the name saved are checked here with ``validate_name``,
    which is stricter (it runs ``validate_file_name`` on any name that is not
    plainly safe) and raises ``SuspiciousFileOperation`` as Django does.
    """
    if not hasattr(content, "chunks"):
        content = File(content, name)
    chosen: str = stack.get_available_name(name, max_length=max_length)
    validate_name(chosen)
    saved: str = stack._save(chosen, content)
    validate_name(saved)
    return saved


class WritePolicy:
    """Where the writes of ``stack`` (the ``Fallback``) go, by the rules above."""

    def __init__(self, stack: Any, layers: tuple[Storage, ...], write_index: int | None, *,
                 shadow: bool, on_delete: str, tombstones: Tombstones | None,
                 guard: LocalWriteGuard | None) -> None:  # fmt: skip
        self.stack = stack
        self.layers = layers
        self.write_index = write_index
        self.write_layer = None if write_index is None else layers[write_index]
        self.shadow = shadow
        self.on_delete = on_delete
        self.tombstones = tombstones
        self.guard = guard

    def writer(self, operation: str, name: object) -> Storage:
        """The write layer, or ``ReadOnlyError`` if the stack has none."""
        if self.write_layer is None:
            raise ReadOnlyError(
                operation, name, self.stack, f"{self.stack!r} has no writable layer"
            )
        return self.write_layer

    def target(self, operation: str, name: str, mode: str | None = None) -> Storage:
        """The write layer, ready to take a write of ``name`` (in ``mode``, for
        ``open``) that reads will see."""
        write_layer = self.writer(operation, name)
        self.refuse_if_shadowed(operation, name)
        self.check_local_write(operation, name)
        tombstones = self.tombstones
        if mode is not None:
            hidden = tombstones is not None and name in tombstones  # deleted: nothing to keep
            if "x" in mode and not hidden and self.other_holders(name):
                raise FileExistsError(errno.EEXIST, "A layer of the stack has the file", name)
            if ("a" in mode or "+" in mode) and not hidden and not self.has(write_layer, name):
                assert self.write_index is not None  # as there is a write layer
                for layer in self.layers[self.write_index + 1 :]:
                    if self.has(layer, name):
                        # Copy-up, streamed; a file saved in the write layer
                        # meanwhile is kept, and is the one written to.
                        with contextlib.suppress(Taken):
                            copy_file(layer, write_layer, name, replace=False)
                        break
            if self.guard is not None and ("w" in mode or "a" in mode or "+" in mode):
                # Written in place: never through a hard link to another file.
                self.guard.separate(name, keep_contents="w" not in mode)
            if "r" not in mode:
                # The directory may exist only in another layer: the stack
                # shows it, so a new file can be opened in it.
                make_parent_directory(write_layer, name)
        if tombstones is not None:
            tombstones.discard(name)
        hooks.layer_answered(self.stack, write_layer)
        return write_layer

    def saved(self, name: str, saved: str) -> str:
        """After the write layer's ``_save`` of ``name`` gave ``saved``: the
        name the file has when nothing is hidden by it."""
        if saved == name:
            return saved
        # Checked before it is read, moved or deleted below, not only once
        # Django's template gets it back: an unsafe name may name another file.
        validate_name(saved)
        # The write layer found ``name`` taken (another writer got there first)
        # and chose another name by its own lights, which may be one a
        # read-only layer serves: the new file must hide nothing.
        write_layer = self.write_layer
        assert write_layer is not None  # it saved the file
        if not self.shadow and self.other_holders(saved):
            # Move what was written: the content may be spent (the write layer
            # moves a temporary upload into place rather than copy it).
            stack = self.stack
            with write_layer.open(saved, "rb") as written:
                moved: str = stack._save(stack.get_available_name(name), File(written, name=name))
            write_layer.delete(saved)
            return moved
        if self.tombstones is not None:
            self.tombstones.discard(saved)
        return saved

    def delete(self, name: str) -> None:
        """Delete ``name`` from the write layer; copies in other layers are
        left, or hidden, or refused, as ``on_delete`` says."""
        write_layer = self.write_layer
        tombstones = self.tombstones
        if tombstones is not None and name in tombstones:
            return  # hidden already
        in_write_layer = write_layer is not None and self.has(write_layer, name)
        if (
            in_write_layer
            and is_local(write_layer)
            and is_directory(write_layer, name)
            and self.other_holders(name)
        ):
            # A directory names no file: the file another layer has is the one
            # reads serve, and the one this deletes. (A directory alone goes,
            # empty, as FileSystemStorage.delete() removes it.)
            in_write_layer = False
        if in_write_layer:
            # A delete removes a link itself, never its target.
            self.check_local_write("delete", name, follow_last=False)
            hooks.layer_answered(self.stack, write_layer)
            assert write_layer is not None  # it has the file
            if tombstones is None:
                write_layer.delete(name)
                return
        holders = self.other_holders(name)
        if holders and tombstones is not None:
            # The tombstone first: if the delete below fails, the name is
            # still hidden, rather than the copies in other layers reappearing.
            tombstones.add(name)
        if in_write_layer:
            assert write_layer is not None  # it has the file
            write_layer.delete(name)
        if not holders or tombstones is not None:
            return
        if self.on_delete == "raise":
            raise ReadOnlyError(
                "delete",
                name,
                self.stack,
                f"the file is only in layers that are not written to ({labels(holders)}) "
                f'of {self.stack!r}, and on_delete="raise"',
            )
        logger.log(
            logging.INFO if self.shadow else logging.WARNING,
            "delete(%r) did nothing: the file is only in layers that are not written to (%s) of %r",
            name,
            labels(holders),
            self.stack,
        )

    def write_layer_method(self, method: str) -> Any:
        """The write layer's own ``method`` (``post_process``, ``save_manifest``:
        staticfiles storages write from them), run with a view of the write
        layer whose writes are checked as the stack's are; ``AttributeError``
        if the write layer has no such method. A stack without a write layer
        gives one that raises ``ReadOnlyError`` when called, as ``ReadOnly``
        does: reading the attribute (``hasattr``, ``dir``) never raises it."""
        proxied = self.stack.__wrapped__
        getattr(proxied, method)  # AttributeError where the write layer has none
        if self.write_layer is None:

            def refuse(*args: Any, **kwargs: Any) -> Any:
                return self.writer(method, None)  # raises: there is no write layer

            return refuse
        return own_method(self.write_layer, method, self.check_local_write)

    def other_holders(self, name: str) -> list[Storage]:
        """The layers besides the write layer that have ``name``."""
        write_layer = self.write_layer
        return [
            layer for layer in self.layers if layer is not write_layer and self.has(layer, name)
        ]

    def has(self, layer: Storage, name: str) -> bool:
        """Whether ``layer`` has ``name``, asked directly (a write never skips a
        layer that is down); its error names the layer (``notes``)."""
        try:
            return layer.exists(name)
        except Exception as exc:
            note_layer(exc, self.stack, layer)
            raise

    def refuse_if_shadowed(self, operation: str, name: str) -> None:
        """Refuse a write of ``name`` that a layer before the write layer would hide."""
        index = self.write_index
        for layer in self.layers[:index] if index and not name_is_free.get() else ():
            if self.has(layer, name):
                raise ReadOnlyError(
                    operation,
                    name,
                    self.stack,
                    f"{storage_label(layer)} comes before the write layer and serves "
                    f"{name!r}, so the write would be invisible",
                )

    def check_local_write(self, operation: str, name: str, *, follow_last: bool = True) -> None:
        """Refuse a write whose real target, through a symlink in a local write
        layer, is outside it or inside another layer (a no-op for a remote one)."""
        guard = self.guard
        if guard is None:
            return
        if operation == "_save":
            follow_last = guard.saves_follow_links
        reason = guard.refusal(name, follow_last=follow_last)
        if reason is None:
            if operation == "_save" and follow_last:
                guard.separate(name, keep_contents=False)  # it truncates in place
            return
        into_another_layer, why = reason
        if into_another_layer:
            raise ReadOnlyError(operation, name, self.stack, why)
        raise SuspiciousFileOperation(f"{operation}({name!r}) refused: {why}")

    def link_refusal(self, name: str) -> tuple[bool, str] | None:
        """:meth:`LocalWriteGuard.refusal` of a write of ``name`` to the write
        layer, if it is local."""
        guard = self.guard
        return None if guard is None else guard.refusal(name)
