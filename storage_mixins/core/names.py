"""Validation of the names a stack is asked about, before any layer sees them.

Backends disagree about unsafe names: ``FileSystemStorage`` refuses ``../x``
while ``S3Storage`` quietly normalises it to ``x``, and reads ``a\\b`` as
``a/b`` where a filesystem sees one file. A stack must give one answer whatever
its layer order, so names are checked once, up front, with Django's own rule
(``validate_file_name(name, allow_relative_path=True)``), and also refused:

* control characters, which no backend stores faithfully;
* backslashes and drive letters (``C:``), separators or roots on Windows;
* names that Unicode compatibility normalisation (NFKC) turns into one of the
  above, such as ``\\uff0e\\uff0e/x`` (fullwidth dots, NFKC: ``../x``);
* names no backend can hold: over 1024 bytes in UTF-8 (S3's limit on keys), or
  with a part over 255 bytes (the filesystems' limit);
* the directory storage_mixins reserves for its tombstones.

A stack turns each name it is given into one spelling before it asks any layer
(:func:`file_name`, :func:`directory_name`, :func:`url_name`): a plain ``str``
(``SafeString``, ``StrEnum`` members and path objects are accepted, as the raw
storages accept them), validated, with ``a//b``, ``./a`` and ``a/./b`` written
``a/b``, which is the file every backend reads for them. So a name spelled two
ways is one file to tombstones and caches too. Names that need routing of
their own, absolute paths and the root directory, raise :class:`UnusualName`
instead. The answers are memoised: pages ask about the same names again and
again, and this is the first thing every call does.
"""

from __future__ import annotations

import functools
import os
import pathlib
import posixpath
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.utils import validate_file_name

__all__ = [
    "RESERVED_DIRECTORY",
    "AbsoluteName",
    "RootName",
    "UnusualName",
    "canonical_directory",
    "canonical_name",
    "directory_name",
    "file_name",
    "has_control_characters",
    "url_name",
    "validate_directory",
    "validate_name",
    "validate_str",
]

#: The directory storage_mixins keeps its own records in (tombstones), in a
#: stack's write layer: no name given to a stack may be under it.
RESERVED_DIRECTORY = ".storage-mixins"

# C0 controls (NUL included), DEL and C1 controls.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"[A-Za-z]:")
_PLAIN = re.compile(r"[A-Za-z0-9_.\-/]{1,255}")
MAX_NAME_BYTES = 1024  # S3's limit on a key
MAX_PART_BYTES = 255  # NAME_MAX of the common filesystems


class UnusualName(Exception):
    """Raised by the name functions below for a name that the stack routes
    specially; ``name`` is its plain ``str`` spelling."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class AbsoluteName(UnusualName):
    """An absolute path: only a local layer whose ``location`` holds it may
    take it (``collectstatic`` asks ``exists(storage.location)``)."""


class RootName(UnusualName):
    """The root directory: ``""`` (and ``None`` for ``url()``). A file method
    given ``"."`` raises ``SuspiciousFileOperation``, as Django does."""


class _Memo(dict[str, str]):
    """Answers of a name function, by name: a lookup is one C-level dict
    subscript (cheaper than ``lru_cache``'s bookkeeping), and a miss computes
    the answer. Only plain ``str`` names are remembered, under their text, so a
    ``str`` subclass is never remembered under what its ``__eq__`` or
    ``__hash__`` claims (one that claims to equal a remembered name is given
    that name's answer: a validated name, never its own unchecked text);
    exceptions (unsafe names, ``UnusualName``) are never remembered. Full, it
    starts again: pages ask about the same few names."""

    def __init__(self, compute: Any, size: int) -> None:
        super().__init__()
        self._compute = compute
        self._size = size

    def __missing__(self, name: Any) -> str:
        answer: str = self._compute(name)
        if name.__class__ is str:
            if len(self) >= self._size:
                self.clear()
            self[name] = answer
        return answer


def _file_name(name: Any) -> str:
    """The one spelling of the file ``name`` that a stack uses: a plain,
    validated, relative ``str``.

    Raises ``TypeError`` for a name that is not a ``str`` or a path,
    ``SuspiciousFileOperation`` for an unsafe one, and :class:`AbsoluteName`
    or :class:`RootName` for those two.
    """
    if name.__class__ is not str:
        name = _plain_str(name, "File")
    if name == "":
        raise RootName(name)
    if name[0] == "/":
        raise AbsoluteName(name)
    if not _obviously_safe(name):
        _validate(name)
    return _one_spelling(name)


def _directory_name(path: Any) -> str:
    """:func:`file_name` for a directory: ``""`` (also for ``"."``) is the root,
    and a trailing slash is allowed and dropped."""
    if path.__class__ is not str:
        path = _plain_str(path, "Directory")
    if path[:1] == "/":
        raise AbsoluteName(path)
    stripped = path.rstrip("/")
    if stripped in ("", "."):
        if path not in ("", ".") and stripped == "":
            raise SuspiciousFileOperation(f"Detected path traversal attempt in {path!r}")
        return ""
    _validate(stripped)
    return _one_spelling(stripped)


def _url_name(name: Any) -> str:
    """:func:`file_name` for ``url()``, which also names directories: ``None``
    and ``""`` are the root (:class:`RootName`), and ``"path/"`` keeps its
    trailing slash (Django gives the directory's URL, as ``{% static "path/" %}``
    relies on). A backslash is a slash, as Django's ``url()`` (and S3) read
    it: a legacy name such as ``albums\\a.jpg`` gets the URL of ``albums/a.jpg``."""
    if name is None:
        raise RootName("")
    if name.__class__ is not str:
        name = _plain_str(name, "File")
    if "\\" in name:
        name = name.replace("\\", "/")
    if name[-1:] == "/" and name[:1] != "/":
        directory = directory_name(name)
        if not directory:
            raise RootName("")
        return f"{directory}/"
    return file_name(name)


# The name functions: each a memo's lookup (see _Memo), documented above.
file_name: Callable[[Any], str] = _Memo(_file_name, 8192).__getitem__
directory_name: Callable[[Any], str] = _Memo(_directory_name, 1024).__getitem__
url_name: Callable[[Any], str] = _Memo(_url_name, 4096).__getitem__


def _plain_str(name: Any, kind: str) -> str:
    if isinstance(name, str):
        return str.__str__(name)  # SafeString, StrEnum…: the text itself, a plain str
    if isinstance(name, os.PathLike):
        text = os.fspath(name)
        if isinstance(text, str):
            return text
        name = text
    raise TypeError(f"{kind} names must be str, not {type(name).__name__}")


def _one_spelling(name: str) -> str:
    # What every backend reads for the name: FileSystemStorage and
    # InMemoryStorage (pathlib) see one file, and S3Storage's clean_name one key.
    if "//" in name or "/./" in name or name[:2] == "./" or name[-2:] == "/.":
        return posixpath.normpath(name)
    return name


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
    _validate_text(text)
    normalized = unicodedata.normalize("NFKC", text)
    if normalized != text:
        try:
            _validate_text(normalized)
        except SuspiciousFileOperation as exc:
            raise SuspiciousFileOperation(
                f"File name {text!r} looks like {normalized!r} once normalised: {exc}"
            ) from None


def _validate_text(text: str) -> None:
    if _CONTROL_CHARACTERS.search(text):
        raise SuspiciousFileOperation(f"File name {text!r} contains control characters")
    if "\\" in text or _DRIVE.match(text):
        raise SuspiciousFileOperation(
            f"File name {text!r} contains a backslash or a drive letter, which are "
            "path separators or roots on Windows and which S3 and filesystems read differently"
        )
    validate_file_name(text, allow_relative_path=True)
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable bytes
        raise SuspiciousFileOperation(f"File name {text!r} is not valid Unicode") from None
    if len(encoded) > MAX_NAME_BYTES or any(
        len(part) > MAX_PART_BYTES for part in encoded.split(b"/")
    ):
        raise SuspiciousFileOperation(
            f"File name {text[:40]!r}… is too long: at most {MAX_NAME_BYTES} bytes in "
            f"UTF-8, and {MAX_PART_BYTES} between slashes"
        )
    parts = pathlib.PurePosixPath(text).parts
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
    # A sufficient (not necessary) condition for validate_name to pass: short
    # plain ASCII (no backslash, colon or control character) with nothing
    # unusual about its dots and slashes. Anything else takes the full check.
    return (
        _PLAIN.fullmatch(name) is not None
        and name[0] != "/"
        and name[-1] != "/"
        and ".." not in name
        and not name.startswith((RESERVED_DIRECTORY, "./"))
        and not name.endswith("/.")
        and name != "."
    )


# -- the names a cache keeps facts under -----------------------------------------


@functools.lru_cache(maxsize=8192)
def canonical_name(path: str | None) -> str | None:
    """The spelling a cache keeps facts about ``path`` under, one per file, so
    that ``a/./b`` and ``a//b`` share entries; or ``None`` for a name whose
    meaning only the storage knows, which is not cached at all.

    Such names are the absolute ones, those with a trailing slash, and those
    with a backslash, which S3 (and ``Fallback.url()``) read as a slash and a
    filesystem does not, and those with a ``..`` part.
    ``FileSystemStorage`` reads ``/srv/media/a.txt`` as ``a.txt`` (under its
    location) and refuses any other absolute name, while S3 reads ``/a.txt`` as
    ``a.txt``; ``a/`` is ``a`` on a filesystem but another key on S3. Django's
    own ``save`` and ``Fallback`` refuse them; collectstatic asks
    ``exists(location)`` and ``listdir(location)`` once a run. ``a/../b`` is
    ``b`` to the raw backends and refused by a ``Fallback``. Caching them
    would save nothing, and any shared key would be wrong for one backend.
    ``None`` (``url(None)``, the root) is not cached either: ``str()`` would
    make it the file ``"None"``.
    """
    if path is None:
        return None
    path = str(path)
    if path in ("", "."):
        return ""
    if _already_canonical(path):
        return path  # the common case, without normpath's cost
    if path[0] == "/" or path[-1] == "/" or "\\" in path or ".." in path.split("/"):
        return None
    normal = posixpath.normpath(path)
    return "" if normal == "." else normal


def canonical_directory(path: str) -> str | None:
    """:func:`canonical_name` for ``listdir``, where ``photos/`` is ``photos`` for
    every backend."""
    text = str(path)
    if text[-1:] == "/" and text[:1] != "/":
        text = text.rstrip("/") or "/"
    return canonical_name(text)


def _already_canonical(path: str) -> bool:
    """Whether normpath would leave ``path`` as it is (a sufficient test)."""
    return not (
        path[0] == "/"
        or path[-1] == "/"
        or "//" in path
        or "/./" in path
        or path.startswith("./")
        or path.endswith("/.")
        or ".." in path
        or "\\" in path
    )
