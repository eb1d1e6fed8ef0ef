"""``Fallback``: one storage made of ordered layers.

Reads go through the layers in order and the first layer that has the file
answers; writes go to one layer, the *write layer*, and never anywhere else.

Every method starts the same way: the name goes through one of the name
functions of ``core.names`` (memoised, so this costs one lookup), which gives
the one spelling every layer is asked about, or raises ``UnusualName`` for
the names routed otherwise (absolute paths and the root: ``paths``). Reads
are then routed by the stack's ``routing.Router``; writes are decided by its
``writes.WritePolicy``, and the names of new files by its
``naming.NamePolicy``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Any, ClassVar, Literal, Self, cast, overload

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name

from ...backends.local_writes import LocalWriteGuard
from ...backends.url_arguments import plain_arguments, url_write_reason
from ...core import hooks
from ...core.labels import storage_label
from ...core.modes import checked_mode, is_write_mode
from ...core.names import (
    AbsoluteName,
    RootName,
    UnusualName,
    directory_name,
    file_name,
    url_name,
    validate_name,
)
from ...core.resolve import StorageSpec, resolve_storage
from ...core.stack import contains, is_read_only
from ...core.storage_api import OpenMethod, Reader, TimeMethod
from ...core.wrapper import StorageWrapper
from ...services.circuit_breaker import CircuitBreaker
from .failover import GuardedLayer
from .naming import NamePolicy
from .notes import note_layer
from .paths import Paths
from .routing import Router, real_layers
from .tombstones import Tombstones
from .writes import WritePolicy, name_is_free, save_through

__all__ = ["Fallback"]

_QUERY_OR_FRAGMENT = re.compile(r"[?#]")


class Fallback(StorageWrapper):
    """A storage whose reads fall through ``storages`` in order and whose writes
    go to one of them.

    ``storages`` are storage instances or ``STORAGES`` aliases; in settings,
    where options are keywords, pass them as ``layers=[...]``. The write layer
    is the first layer that is not read-only, or the layer at index
    ``writable``; without one, every write raises
    :class:`~storage_mixins.ReadOnlyError`. A write that fails on the write
    layer raises that layer's error: it never falls through to another layer.

    Reads (``open``, ``size``, the times, ``url``, ``path``) are answered by the
    first layer that has the file; ``exists`` by whether any layer has it;
    ``listdir`` by the union of the layers'. A new file never hides one that
    another layer serves (``shadow=True`` lets it, for ``collectstatic``).
    ``on_delete`` (``"ignore"``, ``"raise"``, ``"hide"``) says what deleting a
    file only read-only layers have does; ``on_error="skip"`` reads on when a
    layer is down, skipping it for ``retry_after`` seconds after ``failures``
    errors in a row. Every name is validated, and given one spelling, before
    any layer is asked.

    A layer that makes up files (:class:`~storage_mixins.Placeholders`) goes
    last: reads show its files, but naming and writes see only the real
    layers, and a missing file's URL is still the last real layer's.

    The ``Fallback`` proxies its write layer (or its first layer):
    ``isinstance`` and backend attributes see that layer. Each method's
    contract, in full: docs/fallback.rst.
    """

    deconstruct_path = "storage_mixins.Fallback"
    routes_layers: ClassVar[bool] = True

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
        # What names, writes and paths see: the layers whose files are real.
        real = real_layers(resolved)
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
            real,
            write_index,
            shadow=self._self_shadow,
            on_delete=self._self_on_delete,
            tombstones=self._self_tombstones,
            guard=guard,
        )
        self._self_naming = NamePolicy(
            self,
            real,
            write_index,
            proxied=self.__wrapped__,
            shadow=self._self_shadow,
            tombstones=self._self_tombstones,
            readers=readers[: len(real)],
        )
        # The write layer when a save needs no check beyond choosing the name
        # (no layer before it, no tombstones): the common case, kept cheap.
        self._self_plain_save_target = (
            write_layer if write_index == 0 and self._self_tombstones is None else None
        )
        self._self_paths = Paths(
            self,
            real,
            write_layer,
            router=self._self_router,
            writes=self._self_writes,
            tombstones=self._self_tombstones,
        )

    # -- the stack ---------------------------------------------------------

    @property
    def layers(self) -> tuple[Storage, ...]:
        """The layers, in the order reads try them."""
        return self._self_layers

    @property
    def wrapped_storages(self) -> tuple[Storage, ...]:
        return self._self_layers

    @property
    def write_layer(self) -> Storage | None:
        """The layer that takes every write, or ``None`` if the stack is read-only."""
        return self._self_write_layer

    @property
    def refuses_writes(self) -> bool:
        return self._self_write_layer is None

    @property
    def tombstones(self) -> Tombstones | None:
        """The names deleted through the stack that other layers still have
        (``on_delete="hide"``), or ``None``."""
        return self._self_tombstones

    @property
    def on_delete(self) -> str:
        """What deleting a file only read-only layers have does: ignore, raise, hide."""
        return self._self_on_delete

    @property
    def on_error(self) -> str:
        """What a layer that cannot be reached does to reads: raise, or skip."""
        return self._self_on_error

    def describe_node(self) -> tuple[str, list[tuple[str, Storage, str]]]:
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

    def identity_options(self) -> dict[str, object]:
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
        if holder is not None:
            hooks.layer_answered(self, holder)
        return holder

    # -- reads -------------------------------------------------------------

    def exists(self, name: str) -> bool:
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return self._self_paths.exists(unusual)
        return self._self_router.exists(name)

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode.__class__ is not str:
            mode = checked_mode(mode)  # what is routed is what is passed on
        if mode != "rb" and is_write_mode(mode):
            return self._write("open", name, mode)
        return self._first_answer("open", name, mode)

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode.__class__ is not str:
            mode = checked_mode(mode)
        if is_write_mode(mode):
            return self._write("_open", name, mode)
        return self._first_answer("_open", name, mode)

    def size(self, name: str) -> int:
        return self._first_answer("size", name)

    def get_accessed_time(self, name: str) -> datetime:
        return self._first_answer("get_accessed_time", name)

    def get_created_time(self, name: str) -> datetime:
        return self._first_answer("get_created_time", name)

    def get_modified_time(self, name: str) -> datetime:
        return self._first_answer("get_modified_time", name)

    # What each method answers, as Django's Storage declares it.
    @overload
    def _first_answer(self, method: OpenMethod, name: str, mode: str, /) -> File[Any]: ...
    @overload
    def _first_answer(self, method: TimeMethod, name: str) -> datetime: ...
    @overload
    def _first_answer(self, method: Literal["size"], name: str) -> int: ...

    def _first_answer(self, method: str, name: str, *args: Any) -> Any:
        """The answer of the first layer that has the file ``name``."""
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return self._self_paths.unusual(method, unusual, *args)
        return self._self_router.first_answer(method, name, args)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        try:
            path = directory_name(path)
        except AbsoluteName as absolute:
            listing = self._self_paths.absolute("listdir", absolute.name, (), {}, writes=False)
            return cast("tuple[list[str], list[str]]", listing)
        listing = self._self_router.listdir(path)
        hooks.layer_answered(self)  # every layer that has the directory
        return listing

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        try:
            name = url_name(name)
        except RootName:
            name = ""
        except AbsoluteName as absolute:
            return cast(
                "str", self._self_paths.absolute("url", absolute.name, args, kwargs, writes=False)
            )
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
        route, found = router.url_route(name)
        if not found:
            # What a staticfiles URL names may have a query or a fragment,
            # which the layer that has the file deals with (manifest hashing);
            # unless a file has that very name, in the layer not asked too.
            file, query = _without_query(name)
            if query and not route.reader.exists(name):
                file_route, file_found = router.url_route(file)
                route = file_route if file_found else route
        answering = route.layer
        hooks.layer_answered(self, answering)
        return answering.url(name, *args, **kwargs)

    def path(self, name: str) -> str:
        return self._self_paths.path(name)

    # -- names -------------------------------------------------------------

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return cast(
                "str",
                self._self_paths.unusual("get_available_name", unusual, max_length=max_length),
            )
        return self._self_naming.available_name(name, max_length)

    def is_name_available(self, name: str, max_length: int | None = None) -> bool:
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return cast(
                "bool",
                self._self_paths.unusual("is_name_available", unusual, max_length=max_length),
            )
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
            name = content.name
            validate_name(name)  # refuse before any I/O, as for a name given
            # Django's own check too: it reads a path object with str(), not os.fspath().
            validate_file_name(name, allow_relative_path=True)
        else:
            try:
                name = file_name(name)
            except UnusualName as unusual:
                saved = self._self_paths.unusual(
                    "save", unusual, content, max_length=max_length, writes=True
                )
                return cast("str", saved)
        # Django's template, with this stack as ``self``: get_available_name
        # and _save are the stack's, not the write layer's.
        if self._self_plain_save_target is not None:
            return save_through(self, name, content, max_length)
        self._self_writes.writer("save", name)  # refuse before any I/O
        if not self._self_write_index or self._self_shadow:
            return save_through(self, name, content, max_length)
        # The name it picks is not served by a layer before the write layer,
        # so _save need not check again.
        token = name_is_free.set(True)
        try:
            return save_through(self, name, content, max_length)
        finally:
            name_is_free.reset(token)

    def _save(self, name: str, content: File[Any]) -> str:
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return cast("str", self._self_paths.unusual("_save", unusual, content, writes=True))
        writes = self._self_writes
        write_layer = self._self_plain_save_target
        if write_layer is None:
            write_layer = writes.target("_save", name)
        elif writes.guard is not None:
            writes.check_local_write("_save", name)
        try:
            saved: str = write_layer._save(name, content)  # type: ignore[attr-defined]  # django-stubs' Storage lacks the backends' _save
        except Exception as exc:
            note_layer(exc, self, write_layer)
            raise
        hooks.layer_answered(self, write_layer)
        return saved if saved == name else writes.saved(name, saved)

    def delete(self, name: str) -> None:
        if not name:
            raise ValueError("The name must be given to delete().")
        try:
            name = file_name(name)
        except UnusualName as unusual:
            self._self_paths.unusual("delete", unusual, writes=True)
            return
        self._self_writes.delete(name)

    # -- writes through open() ----------------------------------------------

    def _write(self, method: OpenMethod, name: str, mode: str) -> File[Any]:
        """``open``/``_open`` in a mode that writes: the write layer's."""
        try:
            name = file_name(name)
        except UnusualName as unusual:
            return cast("File[Any]", self._self_paths.unusual(method, unusual, mode, writes=True))
        opened = getattr(self._self_writes.target(method, name, mode), method)(name, mode)
        return cast("File[Any]", opened)

    def _check_local_write(self, operation: str, name: str, *, follow_last: bool = True) -> None:
        self._self_writes.check_local_write(operation, name, follow_last=follow_last)

    # -- reading through other readers (Caching with listings) ---------------

    def reading_through(self, wrap: Callable[[int, Any, Any], Any]) -> Self:
        """A view of this stack that reads layer ``position`` through
        ``wrap(position, layer, reader)`` instead of its own reader, and shares
        everything else with it: layers, write layer, tombstones, breakers.

        For reads only. ``Caching(..., listings=...)`` over a whole stack gives
        readers that answer from directory listings, and the stack routes as
        ever: the first layer that has the file wins.
        """
        view = self.shallow_copy()
        view._self_router = router = self._self_router.reading_through(wrap)
        view._self_paths = self._self_paths.reading_through(router)
        return view

    # -- plumbing ----------------------------------------------------------

    def _repr_arguments(self) -> list[str]:
        arguments = [storage_label(layer) for layer in self._self_layers]
        if self._self_arguments[1].get("writable") is not None:
            arguments.append(f"writable={self._self_write_index}")
        return arguments + self._repr_policies()

    def _repr_policies(self) -> list[str]:
        """The options that differ from their defaults, for ``repr()``."""
        policies = []
        if self._self_shadow:
            policies.append("shadow=True")
        if self._self_on_delete != "ignore":
            policies.append(f"on_delete={self._self_on_delete!r}")
        if self._self_on_error != "raise":
            policies.append(f"on_error={self._self_on_error!r}")
        return policies


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
