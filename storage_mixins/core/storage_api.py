"""Django's storage API as types, for the wrappers' annotations.

The wrappers route calls by method name (``getattr(layer, method)(name)``):
these names, grouped by what the method returns, let a router's overloads say
that ``exists`` answers a ``bool`` and ``size`` an ``int``, as Django's
``Storage`` declares. The protocols are what the
wrappers ask of the objects they duck-type. Nothing here runs: it is for type
checkers only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from django.core.files.base import File

__all__ = ["OpenMethod", "Reader", "SupportsExists", "TextMethod", "TimeMethod"]

# Methods that open a file.
OpenMethod = Literal["open", "_open"]
# Methods that answer a name, a path or a URL.
TextMethod = Literal["save", "_save", "url", "path", "get_available_name"]
# Methods that answer a datetime.
TimeMethod = Literal["get_accessed_time", "get_created_time", "get_modified_time"]


class SupportsExists(Protocol):
    """What a ``Fallback`` asks ``exists()`` of: a layer, or a stand-in for one."""

    def exists(self, name: str) -> bool: ...


class Reader(SupportsExists, Protocol):
    """What a ``Fallback`` reads a layer through: the layer itself (any
    ``Storage``), or the layer behind its circuit breaker (``GuardedLayer``)."""

    def open(self, name: str, mode: str = "rb") -> File[Any]: ...
    def size(self, name: str) -> int: ...
    def listdir(self, path: str) -> tuple[list[str], list[str]]: ...
    def get_accessed_time(self, name: str) -> datetime: ...
    def get_created_time(self, name: str) -> datetime: ...
    def get_modified_time(self, name: str) -> datetime: ...
