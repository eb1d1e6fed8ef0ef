"""A backend's error that a layer of a :class:`~storage_mixins.Fallback` raised,
noted with where it came from.

The error keeps its type (code that catches ``ClientError`` still does); it
gains a note (``add_note``) naming the layer (its index, its label, which
names the bucket or directory, and its ``STORAGES`` alias), the stack's
alias, and the error's likely cause and fix (``backends.errors``). Only the
innermost stack adds one: it knows the layer best.
"""

from __future__ import annotations

from typing import Any

from ...backends.errors import is_backend_error, note_failure
from ...core.labels import storage_label
from ...core.resolve import alias_of
from ...core.stack import is_router, is_wrapper

__all__ = ["note_layer"]


def note_layer(exc: BaseException, stack: Any, layer: Any) -> None:
    """Note on ``exc``, if it is a backend's error, that ``layer`` of ``stack``
    raised it, and why it likely did."""
    if layer is None or not is_backend_error(exc):
        return
    position = next((i for i, each in enumerate(stack.layers) if each is layer), "?")
    named = alias_of(stack)
    of = f"STORAGES[{named!r}]" if named else type(stack).__name__
    note_failure(exc, f"layer [{position}] {storage_label(layer)}{_alias(layer)} of {of}")


def _alias(layer: Any) -> str:
    """`` (STORAGES['production'])`` if the layer, or the storage its wrappers
    wrap, is an alias's instance."""
    while True:
        named = alias_of(layer)
        if named:
            return f" (STORAGES[{named!r}])"
        if not is_wrapper(layer) or is_router(layer):
            return ""
        layer = layer.__wrapped__
