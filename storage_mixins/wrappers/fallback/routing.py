"""How a :class:`~storage_mixins.Fallback`'s reads find the layer that answers.

A :class:`Router` holds what routing needs (the layers, each read through its
*reader*: the layer itself, or its circuit breaker under ``on_error="skip"``,
or a listing-backed reader under ``Caching(..., listings=...)``) as plain
attributes, so that a read costs one attribute of the stack's proxy and none
after it. The rules:

* the first layer that has the file answers ``open``, ``size`` and the
  ``get_*_time`` methods; a layer that lacks it, has a *directory* of that
  name (a local layer's ``size()`` would answer for the directory), or does not
  implement the method is skipped; any other error is raised as it is;
* a layer whose ``open()`` succeeds for a missing file (django-storages'
  ``AzureStorage``) is asked ``exists()`` first, and one whose ``listdir()``
  gives full names is listed by base names (see ``backend_quirks``);
* a name hidden by a tombstone is missing everywhere;
* a miss is routine while the next layer is tried: wrappers that care
  (``Logging``) are told so (``probing``).

Names come here already in the one spelling of ``storage_mixins.core.names``.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.files.storage import Storage

from ...backends.errors import is_not_found, not_found_types
from ...backends.local import is_directory, is_local
from ...backends.quirks import base_names, lists_full_names, opens_lazily
from ...core import hooks
from ...core.labels import storage_label
from ...core.names import RESERVED_DIRECTORY
from ...core.stack import backend_of
from .failover import GuardedLayer
from .notes import note_layer
from .tombstones import Tombstones

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ...core.storage_api import Reader, SupportsExists

__all__ = ["Hidden", "Route", "Router", "holds_no_file", "labels"]

# Reads of metadata that a directory would answer wrongly in a local layer
# (FileSystemStorage.size() of a directory is the directory's size).
_FILE_METADATA = frozenset({"size", "get_accessed_time", "get_created_time", "get_modified_time"})
_OPENS = frozenset({"open", "_open"})


class Hidden(Exception):
    """Raised by the tombstones' reader to end an ``exists()`` with ``False``."""


class Route:
    """One layer as reads see it: the layer, its reader, and what about its
    backend changes how it is read."""

    __slots__ = ("full_names", "layer", "lazy_open", "local", "reader")

    def __init__(self, layer: Storage, reader: Reader) -> None:
        backend = backend_of(layer)
        self.layer = layer
        self.reader = reader
        self.local = is_local(layer)  # where a directory answers as if it were a file
        self.lazy_open = opens_lazily(backend)
        self.full_names = backend if lists_full_names(backend) else None


class Router:
    """The reads of ``stack`` through ``readers`` (one a layer, in order)."""

    __slots__ = ("exists_routes", "readers", "reports_probes", "routes", "stack", "tombstones")

    def __init__(
        self,
        stack: Any,
        layers: tuple[Storage, ...],
        readers: tuple[Reader, ...],
        *,
        tombstones: Tombstones | None,
        reports_probes: bool,
    ) -> None:
        self.stack = stack
        self.readers = readers
        self.routes = tuple(
            Route(layer, reader) for layer, reader in zip(layers, readers, strict=True)
        )
        self.tombstones = tombstones
        self.reports_probes = reports_probes
        # Each reader with the layer it reads. The tombstones, if any, come
        # first, as a reader that raises Hidden: a check that costs nothing on
        # the hottest path without them.
        self.exists_routes: tuple[tuple[SupportsExists, Storage | None], ...] = tuple(
            zip(readers, layers, strict=True)
        )
        if tombstones is not None:
            self.exists_routes = ((_TombstoneGate(tombstones), None), *self.exists_routes)

    def reading_through(self, wrap: Callable[[int, Any, Any], Any]) -> Router:
        """This router with layer ``position`` read through
        ``wrap(position, layer, reader)``."""
        readers = tuple(
            wrap(position, route.layer, route.reader) for position, route in enumerate(self.routes)
        )
        layers = tuple(route.layer for route in self.routes)
        return Router(
            self.stack,
            layers,
            readers,
            tombstones=self.tombstones,
            reports_probes=self.reports_probes,
        )

    # -- reads -------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        """Whether a layer has ``name``: the stack's ``exists()``, the hottest read."""
        layer = None
        try:
            for reader, layer in self.exists_routes:
                if reader.exists(name):
                    hooks.layer_answered(self.stack, layer)
                    return True
        except Hidden:
            return False
        except Exception as exc:
            note_layer(exc, self.stack, layer)
            raise
        return False

    def first_answer(self, method: str, name: str, args: tuple[Any, ...] = ()) -> Any:
        """Ask each layer in order; return the answer of the first that has ``name``."""
        if self.tombstones is not None and name in self.tombstones:
            raise FileNotFoundError(errno.ENOENT, "Deleted (hidden by a tombstone)", name)
        missing: list[Reader] = []
        unsupported: list[Reader] = []
        cause: BaseException | None = None
        about_the_file = method in _FILE_METADATA
        opening = method in _OPENS
        token = hooks.probing.set(True) if self.reports_probes else None
        try:
            for route in self.routes:
                reader = route.reader
                layer_method = getattr(reader, method, None)
                if layer_method is None:
                    unsupported.append(reader)
                    continue
                if about_the_file and route.local and is_directory(route.layer, name):
                    missing.append(reader)  # a directory here: the file may be further on
                    continue
                if opening and route.lazy_open and not reader.exists(name):
                    missing.append(reader)  # its open() would "succeed" anyway
                    continue
                try:
                    answer = layer_method(name, *args)
                except NotImplementedError as exc:
                    unsupported.append(reader)
                    cause = exc
                except not_found_types() as exc:
                    if not is_not_found(exc):
                        raise
                    missing.append(reader)
                    cause = exc
                else:
                    hooks.layer_answered(self.stack, route.layer)
                    return answer
        except Exception as exc:
            note_layer(exc, self.stack, route.layer)
            raise
        finally:
            if token is not None:
                hooks.probing.reset(token)
        raise self.not_answered(method, name, missing, unsupported) from cause

    def holder(self, name: str, *, last: bool = True) -> Storage | None:
        """The first layer that has the file ``name`` (not a directory of that
        name, nor a dangling link: see :func:`holds_no_file`); with
        ``last=False``, the last layer is not asked."""
        if self.tombstones is not None and name in self.tombstones:
            return None
        route = None
        try:
            for route in self.routes if last else self.routes[:-1]:
                if route.reader.exists(name) and not (
                    route.local and holds_no_file(route.layer, name)
                ):
                    return route.layer
        except Exception as exc:
            note_layer(exc, self.stack, route and route.layer)
            raise
        return None

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """The union of the layers' listings of ``path``, first seen first."""
        directories: dict[str, None] = {}
        files: dict[str, None] = {}
        answered = False
        missing: list[Reader] = []
        unsupported: list[Reader] = []
        token = hooks.probing.set(True) if self.reports_probes else None
        try:
            for route in self.routes:
                try:
                    layer_directories, layer_files = route.reader.listdir(path)
                except NotImplementedError:
                    unsupported.append(route.reader)
                    continue
                except not_found_types() as exc:
                    if not is_not_found(exc):
                        raise
                    missing.append(route.reader)
                    continue
                answered = True
                if route.full_names is not None:
                    layer_directories, layer_files = base_names(route.full_names, path, layer_files)
                directories.update(dict.fromkeys(layer_directories))
                files.update(dict.fromkeys(layer_files))
        except Exception as exc:
            note_layer(exc, self.stack, route.layer)
            raise
        finally:
            if token is not None:
                hooks.probing.reset(token)
        if not answered:
            raise self.not_answered("listdir", path, missing, unsupported)
        if path == "":
            directories.pop(RESERVED_DIRECTORY, None)  # the tombstones' home
        tombstones = self.tombstones
        if tombstones is not None:
            prefix = f"{path}/" if path else ""
            return list(directories), [f for f in files if f"{prefix}{f}" not in tombstones]
        return list(directories), list(files)

    def not_answered(
        self, method: str, name: str, missing: list[Reader], unsupported: list[Reader]
    ) -> Exception:
        if not missing:
            return NotImplementedError(f"No layer of {self.stack!r} implements {method}()")
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
                f"{name!r} is only in {labels(holders)}, which does not implement {method}()"
            )
        return FileNotFoundError(
            errno.ENOENT, f"Not found in any layer (tried {labels(missing)})", name
        )


class _TombstoneGate:
    """The first reader of ``exists()`` under ``on_delete="hide"``."""

    __slots__ = ("tombstones",)

    def __init__(self, tombstones: Tombstones) -> None:
        self.tombstones = tombstones

    def exists(self, name: str) -> bool:
        if name in self.tombstones:
            raise Hidden
        return False


def holds_no_file(layer: Any, name: str) -> bool:
    """Whether a local layer whose ``exists()`` has ``name`` holds no file to
    read by it: a directory, or a dangling symlink (``exists()`` sees the link,
    ``open()`` finds nothing and the next layer answers: so do ``which()``,
    ``url()`` and ``path()``, and the listings of ``storage_audit``). One ``stat``."""
    try:
        mode = os.stat(os.path.join(layer.location, name)).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False  # a loop of links, say: open() raises it, from this layer
    return stat.S_ISDIR(mode)


def labels(layers: Sequence[SupportsExists]) -> str:
    """The layers' labels, for messages (a guarded layer by its layer's)."""
    return ", ".join(
        storage_label(layer.layer if isinstance(layer, GuardedLayer) else layer) for layer in layers
    )
