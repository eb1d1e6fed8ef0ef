"""``Fallback``: one storage made of ordered layers.

Reads go through the layers in order and the first layer that has the file
answers; writes go to one layer, the *write layer*, and never anywhere else.

Every method starts the same way: the name goes through one of the name
functions of ``storage_mixins.names`` (memoised, so this costs one lookup),
which gives the one spelling every layer is asked about, or raises
``UnusualName`` for the two kinds of names that are routed differently
(absolute paths and the root directory, see :meth:`Fallback._unusual`). Per-file
reads are then routed by the stack's :class:`~storage_mixins.routing.Router`; writes are decided by
the stack's :class:`~storage_mixins.overlay.WritePolicy` and names of new files
by its :class:`~storage_mixins.naming.NamePolicy`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Any, cast

import wrapt
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage

from . import recording
from .base import StorageWrapper, contains, is_read_only
from .failover import CircuitBreaker, GuardedLayer
from .labels import storage_label
from .local_writes import LocalWriteGuard, is_local
from .names import (
    AbsoluteName,
    RootName,
    UnusualName,
    directory_name,
    file_name,
    has_control_characters,
    url_name,
    validate_name,
)
from .naming import NamePolicy
from .overlay import WritePolicy, labels, name_is_free
from .readonly import checked_mode, is_write_mode
from .resolve import StorageSpec, resolve_storage
from .routing import Router, holds_no_file
from .storage_api import OpenMethod, Reader
from .tombstones import Tombstones
from .url_arguments import plain_arguments, url_write_reason

__all__ = ["Fallback"]

_QUERY_OR_FRAGMENT = re.compile(r"[?#]")


class Fallback(StorageWrapper):
    """A storage whose reads fall through ``storages`` in order and whose writes
    go to one of them.

    ``storages`` are storage instances or ``STORAGES`` aliases; in settings,
    where options are keywords, pass them as ``layers=[...]``. The write layer
    is the first layer that is not read-only, or the layer at index
    ``writable`` when given. Without one, every write raises
    :class:`~storage_mixins.ReadOnlyError`. A write that fails on the write
    layer raises that layer's error: it never falls through to another layer.

    The ``Fallback`` proxies its write layer (or, when there is none, its first
    layer): ``isinstance`` checks and backend attributes such as ``.location``
    see that layer, and the methods not listed below are that layer's own
    (``get_valid_name``…).

    Per method:

    * ``open`` (read modes), ``size``, ``get_accessed_time``,
      ``get_created_time``, ``get_modified_time``: the first layer that has the
      file answers. A layer that lacks the file, has a directory of that name,
      or does not implement the method is skipped; any other error is raised
      as is.
    * ``exists``: whether any layer has the name (stops at the first hit).
    * ``listdir``: the union over the layers, first-seen order, no duplicates.
    * ``url``: the first layer that has the file; otherwise the last layer,
      which is not asked whether it has the file (its answer could not change
      the result), so ``Fallback(fs, ReadOnly(s3)).url()`` makes no S3 request.
      The root (``""``, ``None``) and directories (``"path/"``) have the URL
      the proxied layer gives them. A ``url()`` whose arguments could sign a write
      (``http_method="PUT"``…) is the write layer's, or refused.
    * ``path``: the first layer that has the file and gives local paths
      (``ReadOnly`` layers do not); for a missing file, the write layer.
    * ``save``, ``_save``, ``open`` (write modes): the write layer; a mode with
      ``x`` raises ``FileExistsError`` if any layer has the name.
    * ``generate_filename``: the write layer's, and the result is validated
      like every name (below).
    * ``get_available_name``: see ``storage_mixins.naming``. A new file never
      hides one that another layer serves; names that only the write layer
      has follow the write layer's own rules (overwriting included). With
      ``shadow=True`` only the write layer's rules apply, so a saved file may
      shadow a lower layer's: what ``collectstatic`` needs.
    * ``delete``: the write layer, if it has the file; ``on_delete`` says what
      happens to copies in other layers.

    ``on_delete`` says what deleting a name that only read-only layers have
    does: ``"ignore"`` (the default) leaves it and logs a warning, ``"raise"``
    raises ``ReadOnlyError``, ``"hide"`` records a tombstone in the write layer
    (see ``storage_mixins.tombstones``): from then on the stack answers as if
    the file did not exist, until the name is written again.

    Writes stay visible: opening a file that only a later read-only layer has
    in a mode that keeps its contents (``a``, ``+``) copies it into the write
    layer first; a write to a name that a read-only layer *before* the write
    layer serves would be invisible, and raises ``ReadOnlyError``. A write to a
    local write layer never lands, through a symlink, in another layer (see
    ``storage_mixins.local_writes``).

    ``on_error="skip"`` lets reads go on when a layer is down: a transport
    error (connection refused, timeout, HTTP 5xx…) is a miss, and after
    ``failures`` in a row the layer is skipped, without a request, for
    ``retry_after`` seconds (see ``storage_mixins.failover``). Writes never
    skip. The default, ``"raise"``, raises such errors as they are.

    Every name is validated and given one spelling once, before any layer is
    asked (see ``storage_mixins.names``): an unsafe name raises
    ``SuspiciousFileOperation`` whatever the layer order. Two kinds of names
    keep Django's own callers working (``collectstatic`` uses both): an
    absolute path inside a local layer's ``location`` is passed to that layer
    (for a write, only the write layer), as ``FileSystemStorage`` accepts it;
    and ``""`` names the root directory: ``exists("")`` and ``url("")`` ask the
    write layer (or the first layer), and ``path("")`` returns the
    write layer's root only if every layer gives local paths (Django uses it
    to decide whether a storage is local).
    """

    def __init__(
        self,
        *storages: StorageSpec,
        layers: Sequence[StorageSpec] | None = None,
        writable: int | None = None,
        shadow: bool = False,
        on_delete: str = "ignore",
        on_error: str = "raise",
        failures: int = 3,
        retry_after: float = 30.0,
    ) -> None:
        if storages and layers is not None:
            raise TypeError("Fallback() takes its layers as arguments or as layers=, not both")
        if layers is not None:
            storages = tuple(layers)
            args, kwargs = self._self_arguments  # keep a reusable copy, not an iterator
            self._self_arguments = (args, {**kwargs, "layers": list(storages)})
        if not storages:
            raise TypeError("Fallback() needs at least one storage")
        resolved = tuple(resolve_storage(storage, owner="Fallback") for storage in storages)
        write_index = _choose_write_index(resolved, writable)
        write_layer = None if write_index is None else resolved[write_index]
        super().__init__(resolved[0] if write_layer is None else write_layer)
        self._self_layers = resolved
        self._self_write_index = write_index
        self._self_write_layer = write_layer
        self._self_shadow = bool(shadow)
        self._self_on_delete = _choice("on_delete", on_delete, ("ignore", "raise", "hide"))
        self._self_on_error = _choice("on_error", on_error, ("raise", "skip"))
        guard = LocalWriteGuard.for_stack(write_layer, resolved)  # symlinks
        self._self_tombstones = None
        if on_delete == "hide":
            if write_layer is None:
                raise ImproperlyConfigured(
                    'on_delete="hide" keeps tombstones in the write layer; this stack has none'
                )
            self._self_tombstones = Tombstones(write_layer, before_write=self._check_local_write)
        # What reads go through: the layers themselves, or, with on_error="skip",
        # each behind a circuit breaker that turns an unreachable layer into a miss.
        readers: tuple[Reader, ...] = resolved
        if on_error == "skip":
            readers = tuple(
                GuardedLayer(layer, CircuitBreaker(storage_label(layer), failures, retry_after))
                for layer in resolved
            )
        self._self_readers = readers
        self._self_router = Router(
            self,
            resolved,
            readers,
            tombstones=self._self_tombstones,
            reports_probes=any(contains(layer, _wants_probes) for layer in resolved),
        )
        self._self_writes = WritePolicy(
            self,
            resolved,
            write_index,
            shadow=self._self_shadow,
            on_delete=self._self_on_delete,
            tombstones=self._self_tombstones,
            guard=guard,
        )
        self._self_naming = NamePolicy(
            resolved,
            write_index,
            proxied=self.__wrapped__,
            shadow=self._self_shadow,
            tombstones=self._self_tombstones,
        )
        # The write layer when a save needs no check beyond choosing the name
        # (no layer before it, no tombstones): the common case, kept cheap.
        self._self_plain_save_target = (
            write_layer if write_index == 0 and self._self_tombstones is None else None
        )
        self._bind_hot_paths(Fallback, exists=self._self_router.exists)

    # -- the stack ---------------------------------------------------------

    @property
    def layers(self) -> tuple[Storage, ...]:
        """The layers, in the order reads try them."""
        return self._self_layers

    @property
    def write_layer(self) -> Storage | None:
        """The layer that takes every write, or ``None`` if the stack is read-only."""
        return self._self_write_layer

    @property
    def refuses_writes(self) -> bool:
        return self._self_write_layer is None

    @property
    def on_delete(self) -> str:
        """What deleting a file only read-only layers have does: ignore, raise, hide."""
        return self._self_on_delete

    @property
    def on_error(self) -> str:
        """What a layer that cannot be reached does to reads: raise, or skip."""
        return self._self_on_error

    def _describe_node(self) -> tuple[str, list[tuple[str, Storage, str]]]:
        index = self._self_write_index
        notes = ["read-only: no writable layer" if index is None else f"writes go to [{index}]"]
        if self._self_shadow:
            notes.append("shadow=True")
        if self._self_on_delete != "ignore":
            notes.append(f"on_delete={self._self_on_delete!r}")
        if self._self_on_error != "raise":
            notes.append(f"on_error={self._self_on_error!r}")
        children = []
        for position, route in enumerate(self._self_router.routes):
            layer, reader = route.layer, route.reader
            suffix = "  ← writes" if position == index else ""
            if isinstance(reader, GuardedLayer):
                suffix += f"  [circuit {reader.breaker.state()}]"
            children.append((f"[{position}] ", layer, suffix))
        return f"{type(self).__name__}  ({', '.join(notes)})", children

    def _identity_options(self) -> dict[str, object]:
        # Tombstones (on_delete="hide") hide files; the write layer answers for
        # the root and for missing files' paths. shadow (naming) and on_error
        # (answers given without a layer are not cached) change no cached answer.
        return {"on_delete": self._self_on_delete, "writable": self._self_write_index}

    def breaker_states(self) -> list[tuple[Storage, str]]:
        """Each layer and the state of its circuit breaker (``on_error="skip"``)."""
        return [
            (reader.layer, reader.breaker.state())
            for reader in self._self_readers
            if isinstance(reader, GuardedLayer)
        ]

    def which(self, name: str) -> Storage | None:
        """The layer that serves the file ``name``, or ``None`` if no layer has it."""
        try:
            name = file_name(name)
        except UnusualName as unusual:
            raise SuspiciousFileOperation(
                f"which() needs a file name, not {unusual.name!r}"
            ) from None
        holder = self._self_router.holder(name)
        if holder is not None and recording.active_blocks:
            recording.note_answer(self, holder)
        return holder

    # -- reads -------------------------------------------------------------

    def exists(self, name: str) -> bool:
        return self._self_router.exists(name)  # also bound on the instance: see __init__

    def _exists_unusual(self, unusual: UnusualName) -> bool:
        if isinstance(unusual, RootName):  # the root directory, as collectstatic --clear asks
            return bool(self.__wrapped__.exists(""))
        return cast("bool", self._absolute("exists", unusual.name, (), {}, writes=False))

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode.__class__ is not str:
            mode = checked_mode(mode)  # what is routed is what is passed on
        if mode != "rb" and is_write_mode(mode):
            return self._write("open", name, mode)
        return self._self_router.first_answer("open", name, (mode,))

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode.__class__ is not str:
            mode = checked_mode(mode)
        if is_write_mode(mode):
            return self._write("_open", name, mode)
        return self._self_router.first_answer("_open", name, (mode,))

    def size(self, name: str) -> int:
        return self._self_router.first_answer("size", name)

    def get_accessed_time(self, name: str) -> datetime:
        return self._self_router.first_answer("get_accessed_time", name)

    def get_created_time(self, name: str) -> datetime:
        return self._self_router.first_answer("get_created_time", name)

    def get_modified_time(self, name: str) -> datetime:
        return self._self_router.first_answer("get_modified_time", name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        try:
            path = directory_name(path)
        except AbsoluteName as absolute:
            listing = self._absolute("listdir", absolute.name, (), {}, writes=False)
            return cast("tuple[list[str], list[str]]", listing)
        listing = self._self_router.listdir(path)
        if recording.active_blocks:
            recording.note_answer(self)  # every layer that has the directory
        return listing

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        try:
            name = url_name(name)
        except RootName:
            name = ""
        except AbsoluteName as absolute:
            return cast("str", self._absolute("url", absolute.name, args, kwargs, writes=False))
        if args or kwargs:
            args, kwargs = plain_arguments(args, kwargs)  # checked as passed on
            if url_write_reason(self, args, kwargs) is not None:
                # A URL signed for a write is a write: the write layer's, or
                # refused; the upload it allows clears the name's tombstone.
                return self._self_writes.target("url", name).url(name, *args, **kwargs)
        if not name or name[-1] == "/":
            # The root or a directory names no file: its URL is that of the
            # layer the stack proxies, whose base_url the stack shows.
            return self.__wrapped__.url(name, *args, **kwargs)
        router = self._self_router
        answering = router.holder(name, last=False)
        if answering is None:
            # What a staticfiles URL names may have a query or a fragment,
            # which the layer that has the file deals with (manifest hashing);
            # unless a file has that very name, in the last layer too.
            file, query = _without_query(name)
            if query and not router.routes[-1].reader.exists(name):
                answering = router.holder(file, last=False)
        if answering is None:
            answering = router.routes[-1].layer  # as for a missing file, not asked
        if recording.active_blocks:
            recording.note_answer(self, answering)
        return answering.url(name, *args, **kwargs)

    def path(self, name: str) -> str:
        try:
            name = file_name(name)
        except RootName:
            return self._root_path()
        except AbsoluteName as absolute:
            return cast("str", self._absolute("path", absolute.name, (), {}, writes=False))
        if self._self_tombstones is not None and name in self._self_tombstones:
            return self._missing_path(name)
        holders_without_paths = []
        for route in self._self_router.routes:
            layer = route.layer
            if not route.reader.exists(name) or (route.local and holds_no_file(layer, name)):
                continue
            layer_path: Callable[[str], str] | None = getattr(layer, "path", None)
            if layer_path is not None:
                if layer is self._self_write_layer:
                    self._refuse_path_through_link(name)
                try:
                    found = layer_path(name)
                except NotImplementedError:
                    pass
                else:
                    if recording.active_blocks:
                        recording.note_answer(self, layer)
                    return found
            holders_without_paths.append(layer)
        if holders_without_paths:
            raise NotImplementedError(
                f"{name!r} exists only in layers without local paths: "
                f"{labels(holders_without_paths)}"
            )
        return self._missing_path(name)

    # -- names -------------------------------------------------------------

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return cast("str", self._unusual("get_available_name", unusual, max_length=max_length))
        return self._self_naming.available_name(name, max_length)

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return cast("bool", self._unusual("is_name_available", unusual, max_length=max_length))
        return self._self_naming.is_name_available(name, max_length)

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        return self._self_naming.alternative_name(file_root, file_ext)

    def generate_filename(self, filename: str | os.PathLike[str]) -> str:
        name = self.__wrapped__.generate_filename(filename)
        try:
            return file_name(name)  # e.g. an absolute upload_to, which S3 would make relative
        except UnusualName as unusual:
            raise SuspiciousFileOperation(
                f"generate_filename({filename!r}) gave {unusual.name!r}, which names no file "
                "inside the storage"
            ) from None

    # -- writes ------------------------------------------------------------

    # Staticfiles storages write from these, with themselves as ``self``: run
    # over a view of the write layer whose writes the stack checks. Present
    # only where the write layer has them (collectstatic asks hasattr()).
    @property
    def post_process(self) -> Any:
        return self._self_writes.write_layer_method("post_process")

    @property
    def save_manifest(self) -> Any:
        return self._self_writes.write_layer_method("save_manifest")

    def save(self, name: str | None, content: IO[Any], max_length: int | None = None) -> str:
        if name is None:
            validate_name(content.name)  # refuse before any I/O, as for a name given
        else:
            try:
                name = file_name(name)
            except UnusualName as unusual:
                saved = self._unusual("save", unusual, content, max_length=max_length, writes=True)
                return cast("str", saved)
        # Django's template, with this stack as ``self``: get_available_name
        # and _save below are the stack's, not the write layer's.
        if self._self_plain_save_target is not None:
            return Storage.save(self, name, content, max_length=max_length)
        self._self_writes.writer("save", name)  # refuse before any I/O
        if not self._self_write_index or self._self_shadow:
            return Storage.save(self, name, content, max_length=max_length)
        # The name it picks is not served by a layer before the write layer,
        # so _save need not check again.
        token = name_is_free.set(True)
        try:
            return Storage.save(self, name, content, max_length=max_length)
        finally:
            name_is_free.reset(token)

    def _save(self, name: str, content: File[Any]) -> str:
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return cast("str", self._unusual("_save", unusual, content, writes=True))
        writes = self._self_writes
        write_layer = self._self_plain_save_target
        if write_layer is None:
            write_layer = writes.target("_save", name)
        elif writes.guard is not None:
            writes.check_local_write("_save", name)
        saved: str = write_layer._save(name, content)  # type: ignore[attr-defined]  # django-stubs' Storage lacks the backends' _save
        if recording.active_blocks:
            recording.note_answer(self, write_layer)
        return saved if saved == name else writes.saved(name, saved)

    def delete(self, name: str) -> None:
        if not name:
            raise ValueError("The name must be given to delete().")
        try:
            name = file_name(name)
        except UnusualName as unusual:
            self._unusual("delete", unusual, writes=True)
            return
        self._self_writes.delete(name)

    # -- writes through open() ----------------------------------------------

    def _write(self, method: OpenMethod, name: str, mode: str) -> File[Any]:
        """``open``/``_open`` in a mode that writes: the write layer's."""
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return cast("File[Any]", self._unusual(method, unusual, mode, writes=True))
        opened = getattr(self._self_writes.target(method, name, mode), method)(name, mode)
        return cast("File[Any]", opened)

    def _check_local_write(self, operation: str, name: str, *, follow_last: bool = True) -> None:
        self._self_writes.check_local_write(operation, name, follow_last=follow_last)

    # -- unusual names -------------------------------------------------------

    def _unusual(self, method: str, unusual: UnusualName, *args: Any, writes: bool = False,
                 **kwargs: Any) -> Any:  # fmt: skip
        """A method that takes a file name was given an absolute path or the root."""
        if isinstance(unusual, AbsoluteName):
            return self._absolute(method, unusual.name, args, kwargs, writes=writes)
        raise SuspiciousFileOperation(f"Could not derive file name from {unusual.name!r}")

    def _absolute(
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
            return getattr(self, method)(relative, *args, **kwargs)
        if method == "path" and owner is self._self_write_layer and relative != ".":
            self._refuse_path_through_link(relative)
        return getattr(owner, method)(path, *args, **kwargs)

    def _local_layer_owning(self, path: str, *, writes: bool) -> FileSystemStorage | None:
        if has_control_characters(path):
            return None
        path = os.path.normpath(path)
        candidates = [self._self_write_layer] if writes else self._self_layers
        for layer in candidates:
            if not is_local(layer):
                continue  # e.g. S3: its "location" is a key prefix
            root = os.path.normpath(layer.location)
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                return layer
        return None

    def _root_path(self) -> str:
        # Django (collectstatic) asks path("") to learn whether a storage is
        # local. The stack is local only if every layer is: otherwise Django
        # must use the storage API, not paths, for every file.
        for layer in self._self_layers:
            layer_path = getattr(layer, "path", None)
            if layer_path is None:
                raise NotImplementedError(f"{storage_label(layer)} gives no local paths")
            layer_path("")
        return self.__wrapped__.path("")

    def _missing_path(self, name: str) -> str:
        """Where a new file ``name`` would be: the write layer's path."""
        if self.__wrapped__ is self._self_write_layer:
            self._refuse_path_through_link(name)
        return self.__wrapped__.path(name)

    def _refuse_path_through_link(self, name: str) -> None:
        # Callers write through paths (collectstatic --link): like ReadOnly,
        # give none that a write through the stack would be refused.
        # Only a path into another layer: a link out of the stack (what
        # collectstatic --link made on its last run) is the caller's to replace.
        refusal = self._self_writes.link_refusal(name)
        if refusal is not None and refusal[0]:
            raise NotImplementedError(
                f"{self!r} gives no local path for {name!r}: {refusal[1]}. "
                "Read the file with open()."
            )

    # -- reading through other readers (Caching with listings) ---------------

    def reading_through(self, wrap: Callable[[int, Any, Any], Any]) -> Fallback:
        """A view of this stack that reads layer ``position`` through
        ``wrap(position, layer, reader)`` instead of its own reader, and shares
        everything else with it: layers, write layer, tombstones, breakers.

        For reads only. ``Caching(..., listings=...)`` over a whole stack gives
        readers that answer from directory listings, and the stack routes as
        ever: the first layer that has the file wins.
        """
        return _ReadView(self, wrap)

    # -- plumbing ----------------------------------------------------------

    def _repr_arguments(self) -> list[str]:
        arguments = [storage_label(layer) for layer in self._self_layers]
        if self._self_arguments[1].get("writable") is not None:
            arguments.append(f"writable={self._self_write_index}")
        if self._self_shadow:
            arguments.append("shadow=True")
        if self._self_on_delete != "ignore":
            arguments.append(f"on_delete={self._self_on_delete!r}")
        if self._self_on_error != "raise":
            arguments.append(f"on_error={self._self_on_error!r}")
        return arguments


class _ReadView(Fallback):
    """What :meth:`Fallback.reading_through` returns: a stack whose router
    reads through other readers, and whose every other ``_self_`` attribute
    is the stack's."""

    def __init__(self, stack: Fallback, wrap: Callable[[int, Any, Any], Any]) -> None:
        wrapt.BaseObjectProxy.__init__(self, stack.__wrapped__)
        self._self_stack = stack
        self._self_router = stack._self_router.reading_through(wrap)
        self._bind_hot_paths(Fallback, exists=self._self_router.exists)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_self_"):
            return getattr(self._self_stack, name)
        return super().__getattr__(name)

    def __repr__(self) -> str:
        return repr(self._self_stack)


def _without_query(name: str) -> tuple[str, bool]:
    """``name`` without a URL query or fragment, and whether it had one."""
    file = _QUERY_OR_FRAGMENT.split(name, maxsplit=1)[0]
    if file == name:
        return name, False
    try:
        return file_name(file), True
    except (UnusualName, SuspiciousFileOperation):
        return name, False


def _wants_probes(storage: object) -> bool:
    return bool(getattr(type(storage), "wants_probe_context", False))


def _choose_write_index(layers: tuple[Storage, ...], writable: int | None) -> int | None:
    if writable is None:
        return next((index for index, layer in enumerate(layers) if not is_read_only(layer)), None)
    if not isinstance(writable, int) or isinstance(writable, bool):
        raise ImproperlyConfigured(f"writable must be a layer index, not {writable!r}")
    if not -len(layers) <= writable < len(layers):
        raise ImproperlyConfigured(f"writable={writable} is out of range for {len(layers)} layers")
    if is_read_only(layers[writable]):
        raise ImproperlyConfigured(
            f"writable={writable} names {storage_label(layers[writable])}, which is read-only"
        )
    return writable % len(layers)


def _choice(option: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ImproperlyConfigured(
            f"{option} must be one of {', '.join(map(repr, choices))}, not {value!r}"
        )
    return value
