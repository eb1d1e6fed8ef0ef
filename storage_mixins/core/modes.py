"""File modes, judged by their text: whether opening a file in a mode could change it."""

from __future__ import annotations

from typing import Any

__all__ = ["checked_mode", "is_write_mode", "plain_text"]


def is_write_mode(mode: str | None) -> bool:
    """Whether opening a file with ``mode`` could change it.

    Judged by the mode's text, which is what ``open()`` reads: a ``str``
    subclass cannot make a write mode look like ``"rb"``, and a mode that is
    not a string at all counts as one that could write.
    """
    if mode.__class__ is not str:
        if mode is None:
            return False
        if not isinstance(mode, str):
            return True
        mode = plain_text(mode)
    if mode == "rb" or not mode:
        return False  # the common case, first
    return "w" in mode or "a" in mode or "x" in mode or "+" in mode


def plain_text(text: str) -> str:
    """``text`` as a plain ``str``: a subclass's methods (``__eq__``, ``upper``,
    iteration…) cannot then answer differently from what it holds."""
    return text if text.__class__ is str else str.__str__(text)


def checked_mode(mode: Any) -> Any:
    """A mode as it is checked and passed on: a ``str`` subclass as its text."""
    return plain_text(mode) if isinstance(mode, str) else mode
