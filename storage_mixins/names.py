"""Validation of the names a stack is asked about, before any layer sees them.

Backends disagree about unsafe names: ``FileSystemStorage`` refuses ``../x``
while ``S3Storage`` quietly normalises it to ``x``. A stack must give one
answer whatever its layer order, so names are checked once, up front, with
Django's own rule (``validate_file_name(name, allow_relative_path=True)``) plus
a refusal of control characters, which no backend stores faithfully.
"""

from __future__ import annotations

import functools
import os
import pathlib
import re

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.utils import validate_file_name

from .tombstones import RESERVED_DIRECTORY

__all__ = ["has_control_characters", "validate_directory", "validate_name", "validate_str"]

# C0 controls (NUL included), DEL and C1 controls.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def validate_name(name: str | os.PathLike[str]) -> None:
    """Raise ``SuspiciousFileOperation`` unless ``name`` is a safe relative file name."""
    if name.__class__ is str:
        validate_str(name)
    else:
        _validate(name)


@functools.lru_cache(maxsize=4096)
def validate_str(name: str) -> None:
    """:func:`validate_name` for a ``name`` known to be a ``str`` (the fast path).

    Pages ask about the same names again and again; only names that pass are
    remembered (an exception is never cached).
    """
    _validate(name)


def _validate(name: str | os.PathLike[str]) -> None:
    if type(name) is str and _obviously_safe(name):
        return  # the common case, without pathlib's cost
    text = os.fspath(name)
    if not isinstance(text, str):
        raise TypeError(f"File names must be str, not {type(text).__name__}")
    if _CONTROL_CHARACTERS.search(text):
        raise SuspiciousFileOperation(f"File name {text!r} contains control characters")
    validate_file_name(text, allow_relative_path=True)
    parts = pathlib.PurePosixPath(text.replace("\\", "/")).parts
    if parts and parts[0] == RESERVED_DIRECTORY:
        raise SuspiciousFileOperation(
            f"{text!r} is under {RESERVED_DIRECTORY}/, which storage_mixins reserves "
            "for its own records (tombstones)"
        )


def validate_directory(path: str | os.PathLike[str]) -> None:
    """Like :func:`validate_name` for a directory: ``""`` and ``"."`` are the
    root, a trailing slash is allowed."""
    text = os.fspath(path)
    if text in ("", "."):
        return
    if not isinstance(text, str):
        raise TypeError(f"Directory names must be str, not {type(text).__name__}")
    stripped = text.rstrip("/")
    if not stripped:
        raise SuspiciousFileOperation(f"Detected path traversal attempt in {text!r}")
    validate_name(stripped)


def has_control_characters(name: str) -> bool:
    return _CONTROL_CHARACTERS.search(name) is not None


def _obviously_safe(name: str) -> bool:
    # A sufficient (not necessary) condition for validate_name to pass;
    # anything unusual takes the full check.
    return (
        name != ""
        and name[0] != "/"
        and not name.startswith((RESERVED_DIRECTORY, "./"))
        and name[-1] != "/"
        and ".." not in name
        and "\\" not in name
        and name != "."
        and not name.endswith("/.")
        and _CONTROL_CHARACTERS.search(name) is None
    )
