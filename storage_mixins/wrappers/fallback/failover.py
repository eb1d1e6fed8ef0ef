"""Failover: with ``Fallback(..., on_error="skip")``, a layer that is down
counts as a miss.

Every layer is read through a :class:`GuardedLayer`, which asks the layer's
:class:`~storage_mixins.services.circuit_breaker.CircuitBreaker` first: a
transport error, or an open breaker, is a miss for that read, and whoever
watches (``hooks.watching_skips``: ``Caching``) is told the answer came
without the layer. Writes never go through a breaker: they reach the write
layer or fail. The choice of a new file's name asks the other layers
through it (:meth:`GuardedLayer.has`), and names the file so that no file of
a layer that is down can have its name (``naming``).
"""

from __future__ import annotations

import errno
from datetime import datetime
from typing import Any, Literal, overload

from django.core.files.base import File
from django.core.files.storage import Storage

from ...backends.errors import is_transport_error
from ...core import hooks
from ...core.labels import storage_label
from ...core.storage_api import OpenMethod, TimeMethod
from ...services.circuit_breaker import CircuitBreaker

__all__ = ["GuardedLayer"]


class GuardedLayer:
    """A layer read through its circuit breaker: a transport error, or an open
    breaker, is a miss. Only the read methods a ``Fallback`` uses are here."""

    def __init__(self, layer: Storage, breaker: CircuitBreaker) -> None:
        self.layer = layer
        self.breaker = breaker

    def exists(self, name: str) -> bool:
        return bool(self._read("exists", name, missing=False))

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        return self._read("open", name, mode)

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        return self._read("_open", name, mode)

    def size(self, name: str) -> int:
        return self._read("size", name)

    def get_accessed_time(self, name: str) -> datetime:
        return self._read("get_accessed_time", name)

    def get_created_time(self, name: str) -> datetime:
        return self._read("get_created_time", name)

    def get_modified_time(self, name: str) -> datetime:
        return self._read("get_modified_time", name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._read("listdir", path)

    # What each method answers, as Django's Storage declares it.
    @overload
    def _read(self, method: Literal["exists"], name: str, *, missing: bool) -> bool: ...
    @overload
    def _read(self, method: OpenMethod, name: str, mode: str, /) -> File[Any]: ...
    @overload
    def _read(self, method: TimeMethod, name: str) -> datetime: ...
    @overload
    def _read(self, method: Literal["size"], name: str) -> int: ...
    @overload
    def _read(self, method: Literal["listdir"], name: str) -> tuple[list[str], list[str]]: ...

    def _read(self, method: str, name: str, *args: Any, missing: Any = None) -> Any:
        answered, result = self._call(method, name, *args)
        return result if answered else self._miss(method, name, missing, result)

    def has(self, name: str) -> bool | None:
        """``exists(name)``, or ``None`` while the layer is down: for choosing a
        new file's name, where a layer that is down is no miss (``naming``)."""
        answered, result = self._call("exists", name)
        return bool(result) if answered else None

    def _call(self, method: str, name: str, *args: Any) -> tuple[bool, Any]:
        """``(True, the layer's answer)``, or ``(False, the transport error or
        None)`` when the layer is down."""
        if not self.breaker.allow():
            return False, None
        try:
            result = getattr(self.layer, method)(name, *args)
        except Exception as exc:
            if not is_transport_error(exc):
                self.breaker.succeeded()  # it answered, if only to say no
                raise
            self.breaker.failed(exc)
            return False, exc
        self.breaker.succeeded()
        return True, result

    def _miss(self, method: str, name: str, missing: Any, cause: BaseException | None) -> Any:
        hooks.note_skipped(self.label)
        if method == "exists":
            return missing
        error = FileNotFoundError(errno.ENOENT, f"Skipped: {self.label} cannot be reached", name)
        raise error from cause

    @property
    def label(self) -> str:
        return storage_label(self.layer)
