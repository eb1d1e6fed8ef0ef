"""``Fallback``: one storage made of ordered layers.

Reads go through the layers in order and the first layer that has the file
answers; writes go to one layer, the *write layer*, and never anywhere else.
All per-file reads are routed by :meth:`Fallback._first_answer`; the methods
below only say which kind of routing they need.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import Storage

from .base import StorageWrapper, contains, is_read_only
from .errors import ReadOnlyError, is_not_found, not_found_types
from .labels import storage_label
from .names import has_control_characters, validate_directory, validate_name, validate_str
from .probing import probing
from .readonly import is_write_mode
from .resolve import StorageSpec, resolve_storage

__all__ = ["Fallback"]

logger = logging.getLogger(__name__)


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
    (``get_valid_name``, ``generate_filename``…).

    Per method:

    * ``open`` (read modes), ``size``, ``get_accessed_time``,
      ``get_created_time``, ``get_modified_time``: the first layer that has the
      file answers. A layer that lacks the file or does not implement the
      method is skipped; any other error is raised as is.
    * ``exists``: whether any layer has the file (stops at the first hit).
    * ``listdir``: the union over the layers, first-seen order, no duplicates.
    * ``url``: the first layer that has the file; otherwise the last layer,
      which is not asked whether it has the file (its answer could not change
      the result), so ``Fallback(fs, ReadOnly(s3)).url()`` makes no S3 request.
    * ``path``: the first layer that has the file and gives local paths
      (``ReadOnly`` layers do not); for a missing file, the write layer.
    * ``save``, ``_save``, ``open`` (write modes): the write layer.
    * ``get_available_name``: a name that is free in *every* layer, so a new
      file never hides (shadows) one in another layer; the write layer's
      overwrite setting is not honoured for that reason. With
      ``shadow=True`` the name only has to be available in the write layer,
      so a saved file may shadow a lower layer's: what ``collectstatic``
      needs, where the local copy of a file should win.
    * ``delete``: the write layer, if it has the file. A file that is only in
      other layers is left alone, and a warning is logged (at ``INFO`` with
      ``shadow=True``, where it is expected).

    Every name is validated once, before any layer is asked: a name with path
    traversal, an absolute path or control characters raises
    ``SuspiciousFileOperation`` whatever the layer order. Two exceptions keep
    Django's own callers working (``collectstatic`` uses both): an absolute
    path inside a local layer's ``location`` is passed to that layer (for a
    write, only the write layer), as ``FileSystemStorage`` accepts it; and
    ``""`` names the root directory: ``exists("")`` asks the write layer, and
    ``path("")`` returns the write layer's root only if every layer gives
    local paths (Django uses it to decide whether a storage is local).
    """

    def __init__(
        self,
        *storages: StorageSpec,
        layers: Sequence[StorageSpec] | None = None,
        writable: int | None = None,
        shadow: bool = False,
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
        # Whether a wrapper in a layer wants to know when a miss is routine.
        self._self_reports_probes = any(contains(layer, _wants_probes) for layer in resolved)

    # -- the stack ---------------------------------------------------------

    @property
    def layers(self) -> tuple[Any, ...]:
        """The layers, in the order reads try them."""
        return self._self_layers

    @property
    def write_layer(self) -> Any | None:
        """The layer that takes every write, or ``None`` if the stack is read-only."""
        return self._self_write_layer

    @property
    def refuses_writes(self) -> bool:
        return self._self_write_layer is None

    def _describe_node(self) -> tuple[str, list[tuple[str, Any, str]]]:
        index = self._self_write_index
        notes = ["read-only: no writable layer" if index is None else f"writes go to [{index}]"]
        if self._self_shadow:
            notes.append("shadow=True")
        children = [
            (f"[{position}] ", layer, "  ← writes" if position == index else "")
            for position, layer in enumerate(self._self_layers)
        ]
        return f"{type(self).__name__}  ({', '.join(notes)})", children

    def which(self, name: str) -> Any | None:
        """The layer that serves ``name``, or ``None`` if no layer has it."""
        validate_name(name)
        return self._holder(name)

    # -- reads -------------------------------------------------------------

    def exists(self, name: str) -> bool:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("exists", name, writes=False)
        if name == "":  # the root directory, as collectstatic --clear asks
            return bool(self.__wrapped__.exists(name))
        validate_str(name)
        for layer in self._self_layers:  # noqa: SIM110 - faster than any() on the hottest path
            if layer.exists(name):
                return True
        return False

    def open(self, name: str, mode: str = "rb") -> Any:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("open", name, mode, writes=is_write_mode(mode))
        if mode != "rb" and is_write_mode(mode):
            validate_name(name)
            return self._writer("open", name).open(name, mode)
        return self._first_answer("open", name, (mode,))

    def _open(self, name: str, mode: str = "rb") -> Any:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("_open", name, mode, writes=is_write_mode(mode))
        if is_write_mode(mode):
            validate_name(name)
            return self._writer("_open", name)._open(name, mode)
        return self._first_answer("_open", name, (mode,))

    def size(self, name: str) -> int:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("size", name, writes=False)
        return self._first_answer("size", name)

    def get_accessed_time(self, name: str) -> Any:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("get_accessed_time", name, writes=False)
        return self._first_answer("get_accessed_time", name)

    def get_created_time(self, name: str) -> Any:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("get_created_time", name, writes=False)
        return self._first_answer("get_created_time", name)

    def get_modified_time(self, name: str) -> Any:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("get_modified_time", name, writes=False)
        return self._first_answer("get_modified_time", name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        if path.__class__ is not str or path[:1] == "/":
            return self._unusual_name("listdir", path, writes=False)
        validate_directory(path)
        directories: dict[str, None] = {}
        files: dict[str, None] = {}
        answered = False
        missing, unsupported = [], []
        token = probing.set(True) if self._self_reports_probes else None
        try:
            for layer in self._self_layers:
                try:
                    layer_directories, layer_files = layer.listdir(path)
                except NotImplementedError:
                    unsupported.append(layer)
                    continue
                except not_found_types() as exc:
                    if not is_not_found(exc):
                        raise
                    missing.append(layer)
                    continue
                answered = True
                directories.update(dict.fromkeys(layer_directories))
                files.update(dict.fromkeys(layer_files))
        finally:
            if token is not None:
                probing.reset(token)
        if not answered:
            raise self._not_answered("listdir", path, missing, unsupported)
        return list(directories), list(files)

    def url(self, name: str, *args: Any, **kwargs: Any) -> str:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("url", name, *args, **kwargs, writes=False)
        validate_name(name)
        *upper_layers, last_layer = self._self_layers
        for layer in upper_layers:
            if layer.exists(name):
                return layer.url(name, *args, **kwargs)
        return last_layer.url(name, *args, **kwargs)

    def path(self, name: str) -> str:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("path", name, writes=False)
        if name == "":
            return self._root_path()
        validate_name(name)
        holders_without_paths = []
        for layer in self._self_layers:
            if not layer.exists(name):
                continue
            layer_path = getattr(layer, "path", None)
            try:
                if layer_path is not None:
                    return layer_path(name)
            except NotImplementedError:
                pass
            holders_without_paths.append(layer)
        if holders_without_paths:
            raise NotImplementedError(
                f"{name!r} exists only in layers without local paths: "
                f"{_labels(holders_without_paths)}"
            )
        return self.__wrapped__.path(name)

    # -- names -------------------------------------------------------------

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name(
                "get_available_name", name, max_length=max_length, writes=False
            )
        validate_name(name)
        if self._self_shadow and self._self_write_layer is not None:
            return self._self_write_layer.get_available_name(name, max_length=max_length)
        # Django's own algorithm, with this stack as ``self`` so that
        # availability means "free in every layer".
        return Storage.get_available_name(self, name, max_length=max_length)

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        if max_length and len(name) > max_length:
            return False
        return not self.exists(name)

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        alternative = self.__wrapped__.get_alternative_name(file_root, file_ext)
        if alternative == f"{file_root}{file_ext}":
            # An overwriting write layer (allow_overwrite=True) offers the same
            # name again, which get_available_name would retry forever.
            alternative = Storage.get_alternative_name(self, file_root, file_ext)
        return alternative

    # -- writes ------------------------------------------------------------

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        if name is not None and (name.__class__ is not str or name[:1] == "/"):
            return self._unusual_name("save", name, content, max_length=max_length, writes=True)
        validate_name(content.name if name is None else name)
        self._writer("save", name)  # refuse before any I/O
        # Django's template, with this stack as ``self``: get_available_name
        # and _save below are the stack's, not the write layer's.
        return Storage.save(self, name, content, max_length=max_length)

    def _save(self, name: str, content: Any) -> str:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("_save", name, content, writes=True)
        validate_name(name)
        return self._writer("_save", name)._save(name, content)

    def delete(self, name: str) -> None:
        if name.__class__ is not str or name[:1] == "/":
            return self._unusual_name("delete", name, writes=True)
        validate_name(name)
        write_layer = self._self_write_layer
        if write_layer is not None and write_layer.exists(name):
            write_layer.delete(name)
            return
        holders = [
            layer for layer in self._self_layers if layer is not write_layer and layer.exists(name)
        ]
        if holders:
            logger.log(
                logging.INFO if self._self_shadow else logging.WARNING,
                "delete(%r) did nothing: the file is only in layers that are not "
                "written to (%s) of %r",
                name,
                _labels(holders),
                self,
            )

    # -- routing -----------------------------------------------------------

    def _holder(self, name: str) -> Any | None:
        for layer in self._self_layers:
            if layer.exists(name):
                return layer
        return None

    def _unusual_name(self, method: str, name: Any, *args: Any, writes: bool, **kwargs: Any) -> Any:
        """Names that are not plain relative ``str``: path objects are made
        ``str``; an absolute path inside a local layer's ``location`` goes to
        that layer, as ``FileSystemStorage`` accepts it (``collectstatic``
        asks ``exists(storage.location)``), a write only to the write layer;
        any other absolute path is refused, since S3 would make it relative."""
        if isinstance(name, os.PathLike):
            name = os.fspath(name)
        if name.__class__ is str and name[:1] == "/":
            owner = self._local_layer_owning(name, writes=writes)
            if owner is None:
                raise SuspiciousFileOperation(f"Detected path traversal attempt in {name!r}")
            return getattr(owner, method)(name, *args, **kwargs)
        if name.__class__ is not str:
            raise TypeError(f"File names must be str, not {type(name).__name__}")
        return getattr(self, method)(name, *args, **kwargs)

    def _local_layer_owning(self, path: str, *, writes: bool) -> Any | None:
        if has_control_characters(path):
            return None
        path = os.path.normpath(path)
        candidates = [self._self_write_layer] if writes else self._self_layers
        for layer in candidates:
            location = getattr(layer, "location", None)
            if not (isinstance(location, str) and os.path.isabs(location)):
                continue  # e.g. S3: its "location" is a key prefix
            root = os.path.normpath(location)
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

    def _writer(self, operation: str, name: object) -> Any:
        if self._self_write_layer is None:
            raise ReadOnlyError(operation, name, self, f"{self!r} has no writable layer")
        return self._self_write_layer

    def _first_answer(self, method: str, name: str, args: tuple[Any, ...] = ()) -> Any:
        """Ask each layer in order; return the answer of the first that has ``name``."""
        validate_str(name)
        missing: list[Any] = []
        unsupported: list[Any] = []
        cause: BaseException | None = None
        # A layer's miss is routine while the next one is tried: say so to the
        # wrappers that care (Logging), only if there are any (it has a cost).
        token = probing.set(True) if self._self_reports_probes else None
        try:
            for layer in self._self_layers:
                layer_method = getattr(layer, method, None)
                if layer_method is None:
                    unsupported.append(layer)
                    continue
                try:
                    return layer_method(name, *args)
                except NotImplementedError as exc:
                    unsupported.append(layer)
                    cause = exc
                except not_found_types() as exc:
                    if not is_not_found(exc):
                        raise
                    missing.append(layer)
                    cause = exc
        finally:
            if token is not None:
                probing.reset(token)
        raise self._not_answered(method, name, missing, unsupported) from cause

    def _not_answered(
        self, method: str, name: str, missing: list[Any], unsupported: list[Any]
    ) -> Exception:
        if not missing:
            return NotImplementedError(f"No layer of {self!r} implements {method}()")
        # The file may be in a layer that could not answer: say so rather
        # than claim it does not exist.
        holders = [
            layer
            for layer in unsupported
            if method != "listdir"
            and callable(getattr(layer, "exists", None))
            and layer.exists(name)
        ]
        if holders:
            return NotImplementedError(
                f"{name!r} is only in {_labels(holders)}, which does not implement {method}()"
            )
        return FileNotFoundError(
            errno.ENOENT, f"Not found in any layer (tried {_labels(missing)})", name
        )

    # -- plumbing ----------------------------------------------------------

    def _repr_arguments(self) -> list[str]:
        arguments = [storage_label(layer) for layer in self._self_layers]
        if self._self_arguments[1].get("writable") is not None:
            arguments.append(f"writable={self._self_write_index}")
        if self._self_shadow:
            arguments.append("shadow=True")
        return arguments


def _wants_probes(storage: Any) -> bool:
    return bool(getattr(type(storage), "wants_probe_context", False))


def _choose_write_index(layers: tuple[Any, ...], writable: int | None) -> int | None:
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


def _labels(layers: list[Any]) -> str:
    return ", ".join(storage_label(layer) for layer in layers)
