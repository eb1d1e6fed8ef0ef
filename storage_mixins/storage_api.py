"""Django's storage API as types, for the wrappers' annotations.

The wrappers route calls by method name (``getattr(layer, method)(name)``):
these names, grouped by what the method returns, let a router's overloads say
that ``exists`` answers a ``bool`` and ``size`` an ``int``, as Django's
``Storage`` declares. Nothing here runs: it is for type checkers only.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["OpenMethod", "TextMethod", "TimeMethod"]

# Methods that open a file.
OpenMethod = Literal["open", "_open"]
# Methods that answer a name, a path or a URL.
TextMethod = Literal["save", "_save", "url", "path", "get_available_name"]
# Methods that answer a datetime.
TimeMethod = Literal["get_accessed_time", "get_created_time", "get_modified_time"]
