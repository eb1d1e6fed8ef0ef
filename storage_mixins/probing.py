"""Whether the current call is a ``Fallback`` trying its layers in turn.

While it is, a layer that does not have the file is an expected miss: wrappers
such as ``Logging`` report it quietly instead of as a warning.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["is_probing", "probing"]

probing: ContextVar[bool] = ContextVar("storage_mixins_probing", default=False)


def is_probing() -> bool:
    return probing.get()
