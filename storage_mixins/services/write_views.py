"""A storage's own code, run with a view of the storage as ``self``, so that the
writes it makes are checked and heard.

A staticfiles storage writes from its own methods (``post_process`` saves
hashed copies, ``save_manifest`` the manifest), with itself as ``self``: past
any wrapper. Bound to a :class:`WriteView` instead, its writes go through the
view: a ``Fallback`` checks them as it checks its own (the symlink guard), and
``Caching`` forgets what they change (:func:`hearing_writes`).
"""

from __future__ import annotations

import contextlib
import inspect
import types
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol

from django.core.files.storage import Storage

from ..core.files import ClosingReported
from ..core.modes import checked_mode, is_write_mode
from ..core.proxy import Proxy
from ..core.stack import innermost

__all__ = ["WriteCheck", "WriteView", "hearing_writes", "own_method"]


class WriteCheck(Protocol):
    """What checks a write before it is made, and raises to refuse it."""

    def __call__(self, operation: str, name: str, *, follow_last: bool = True) -> None: ...


# Who hears of the writes made through a WriteView (see hearing_writes).
_listeners: ContextVar[tuple[Callable[[str], None], ...]] = ContextVar(
    "storage_mixins_write_listeners", default=()
)


@contextlib.contextmanager
def hearing_writes(listener: Callable[[str], None]) -> Iterator[None]:
    """Meanwhile, tell ``listener`` the name of every write made through a
    :class:`WriteView` (after it returns or raises): ``Caching`` forgets
    what a staticfiles method running below it writes."""
    previous = _listeners.get()
    _listeners.set((*previous, listener))
    try:
        yield
    finally:
        # Set back rather than reset: a generator's block may end in another
        # context than the one it began in.
        _listeners.set(previous)


def _wrote(name: Any) -> None:
    if isinstance(name, str):
        for listener in _listeners.get():
            listener(name)


class WriteView(Proxy[Storage]):
    """``storage``, as its backend's own code sees it when it runs with this view
    as ``self`` (see :func:`own_method`).

    Its writes (``_save``, ``save``, ``delete``, ``open`` for writing) are
    checked by ``check`` (if any), then made by ``storage``, then told to
    whoever is :func:`hearing_writes`. Reads and data are ``storage``'s; an
    attribute that is the backend itself (a ``manifest_storage`` that is the
    storage) is this view.
    """

    def __init__(self, storage: Storage, check: WriteCheck | None = None) -> None:
        super().__init__(storage)
        self._self_check = check
        self._self_backend = innermost(storage)

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_self_"):
            raise AttributeError(attribute)
        function = inspect.getattr_static(type(self._self_backend), attribute, None)
        if isinstance(function, types.FunctionType):
            return function.__get__(self)  # its own code, with this view as self
        value = getattr(self.__wrapped__, attribute)
        return self if value is self._self_backend else value

    def _save(self, name: str, content: Any) -> str:
        self._check("_save", name)
        try:
            saved: str = self.__wrapped__._save(name, content)  # type: ignore[attr-defined]  # django-stubs lack _save
        except BaseException:
            _wrote(name)  # it may have written part of the file
            raise
        _wrote(saved)
        return saved

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        return Storage.save(self, name, content, max_length=max_length)  # type: ignore[arg-type]  # a proxy

    def delete(self, name: str) -> None:
        self._check("delete", name, follow_last=False)
        try:
            self.__wrapped__.delete(name)
        finally:
            _wrote(name)

    def open(self, name: str, mode: str = "rb") -> Any:
        mode = checked_mode(mode)
        if not is_write_mode(mode):
            return self.__wrapped__.open(name, mode)
        self._check("open", name)
        try:
            return ClosingReported(self.__wrapped__.open(name, mode), name, _wrote)
        finally:
            _wrote(name)  # it may have created or truncated the file

    def _check(self, operation: str, name: str, *, follow_last: bool = True) -> None:
        check = self._self_check
        if check is not None:
            check(operation, name, follow_last=follow_last)


def own_method(storage: Storage, method: str, check: WriteCheck | None = None) -> Any:
    """The backend's own ``method`` (``post_process``…), beneath ``storage``'s
    wrappers, bound to a :class:`WriteView` of ``storage``: its writes go
    through ``storage``, checked by ``check``, and are heard."""
    function = getattr(type(innermost(storage)), method)
    return function.__get__(WriteView(storage, check))
