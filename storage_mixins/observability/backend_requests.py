"""The backend requests of a detailed recording, one by one: what was sent
(the kind of backend, the HTTP method, the key), by which storage, in which
storage call, and from which line of the caller's code.

The caller's line is the innermost frame of the project's own code: not this
package's, nor the standard library's, nor an installed package's (Django,
the SDKs, pytest). A request sent inside a storage call has the line that
made the call; one sent outside any call (reading the file ``open()``
returned) has the line its thread is at, or, in a thread with none of the
project's code (boto3's transfer threads), the line the thread that opened the
recording is at: the one waiting for the transfer.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
from types import FrameType
from typing import Any, NamedTuple

from ..core.labels import storage_label
from ..core.resolve import alias_of, built_storages
from ..core.stack import walk

__all__ = ["BackendRequest", "Caller", "find_caller", "thread_caller"]


class Caller(NamedTuple):
    """A line of the project's code."""

    filename: str
    lineno: int
    function: str

    def __str__(self) -> str:
        return f"{_shown(self.filename)}:{self.lineno} in {self.function}"


class BackendRequest:
    """One request a backend sent (kept by a recording with ``detail``).

    ``kind`` is the backend's (``"S3"``, ``"Azure"``, ``"GCS"``, ``"HTTP"``),
    ``method`` the HTTP method, ``target`` the key (a listing's prefix),
    ``operation`` the SDK's name for it where it has one (``"HeadObject"``),
    ``storage`` the backend that sent it (``None`` if unknown), ``call`` the
    recorded storage call it was sent in (``None`` outside any), ``caller``
    the line of the caller's code (``None`` if unknown).
    """

    __slots__ = ("call", "caller", "kind", "method", "operation", "storage", "target")

    def __init__(
        self,
        kind: str,
        method: str,
        target: str,
        *,
        storage: Any = None,
        operation: str = "",
        call: Any = None,
        caller: Caller | None = None,
    ) -> None:
        self.kind = kind
        self.method = method
        self.target = target
        self.storage = storage
        self.operation = operation
        self.call = call
        self.caller = caller

    def __repr__(self) -> str:
        return f"<BackendRequest {self.kind} {self.method} {self.target!r}>"

    def describe(self) -> str:
        """One line, e.g. ``HEAD photos/a.jpg (S3 HeadObject) to production, in
        default.exists('photos/a.jpg'), from gallery/views.py:12 in index``.
        Storages are named by their ``STORAGES`` alias where they have one."""
        sdk = f"{self.kind} {self.operation}" if self.operation else self.kind
        sender = "an unknown storage" if self.storage is None else _layer_name(self.storage)
        return (
            f"{self.method} {self.target or '(the root)'} ({sdk}) to {sender}, "
            f"{self._in_call()}, from {self.caller or 'an unknown line'}"
        )

    def _in_call(self) -> str:
        call = self.call
        if call is None:
            return "outside any storage call"
        argument = repr(call.args[0]) if call.args else ""
        called = alias_of(call.storage) or type(call.storage).__name__
        return f"in {called}.{call.method}({argument})"


def _layer_name(storage: Any) -> str:
    """``storage``'s ``STORAGES`` alias; else its label and the alias of the
    nearest stack Django built that holds it; else its label."""
    alias = alias_of(storage)
    if alias is not None:
        return alias
    nearest: tuple[int, str] | None = None
    for alias, built in built_storages().items():
        for ancestors, node in walk(built):
            if node is storage and (nearest is None or len(ancestors) < nearest[0]):
                nearest = (len(ancestors), alias)
    label = storage_label(storage)
    return label if nearest is None else f"{label} in {nearest[1]}"


def find_caller(frame: FrameType | None) -> Caller | None:
    """The innermost frame of the project's code from ``frame`` outwards."""
    while frame is not None:
        code = frame.f_code
        if _is_projects(code.co_filename):
            return Caller(code.co_filename, frame.f_lineno, code.co_name)
        frame = frame.f_back
    return None


def thread_caller(thread_id: int) -> Caller | None:
    """The line of the project's code that thread ``thread_id`` is at now."""
    return find_caller(sys._current_frames().get(thread_id))


def _library_folders() -> tuple[str, ...]:
    folders = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    folders.update(site.getsitepackages())
    folders.add(site.getusersitepackages())
    folders.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this package
    return tuple(
        sorted(
            {
                os.path.join(spelling(folder), "")
                for folder in folders
                if folder
                for spelling in (os.path.abspath, os.path.realpath)
            }
        )
    )


_LIBRARIES = _library_folders()


@functools.lru_cache(maxsize=2048)
def _is_projects(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen ...>, <string>: nobody's file
        return False
    return not (
        os.path.abspath(filename).startswith(_LIBRARIES)
        or os.path.realpath(filename).startswith(_LIBRARIES)
    )


def _shown(filename: str) -> str:
    """``filename`` relative to the working directory, if it is under it."""
    path = os.path.abspath(filename)
    here = os.path.join(os.getcwd(), "")
    return path[len(here) :] if path.startswith(here) else path
