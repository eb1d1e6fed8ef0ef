"""Recording versions of the wrappers' methods, installed while something records.

Every method of Django's storage API that a wrapper class defines itself
(the interceptions listed in ``tests/test_api.py``), plus ``Fallback.which``,
gets a version that records the call when it is the outermost one. They are
set on the wrapper classes (``StorageWrapper`` and its subclasses, found when
recording starts, or defined meanwhile: ``hooks.class_observer``) only while a
recording is active somewhere in the process, and the stacks' answers are
heard meanwhile (``hooks.answer_observer``); with none, the classes run their
own methods, and the wrappers pay one check of a module attribute where a
layer answers. A method replaced meanwhile (``mock.patch.object``) is
recorded as it is at install time, and left as it is found at uninstall time
if it is no longer the recording version: a patch that ended meanwhile has
put back what it replaced.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from django.core.files.storage import Storage

from ..core import hooks
from ..core.wrapper import StorageWrapper
from .calls import count_request, note_answer, recorded_call
from .context import current
from .s3_requests import hook_new_sessions, hook_shared_clients

__all__ = ["RECORDED_METHODS", "install", "is_installed", "uninstall"]

RECORDED_METHODS = frozenset(
    {name for name, value in vars(Storage).items() if callable(value) and name[:1] != "_"}
    | {"_open", "_save", "which"}
)

_lock = threading.Lock()
_active = 0  # how many recording blocks are active, process-wide
# (class, name, its own method, the recording version) of what is installed.
_patched: list[tuple[type, str, Callable[..., Any], Callable[..., Any]]] = []


def install() -> None:
    """One more recording block is active: install the recording versions if
    it is the first."""
    global _active
    with _lock:
        if not _active:
            try:
                hook_shared_clients()
                hook_new_sessions()
                for cls in _wrapper_classes():
                    _install_on(cls)
            except BaseException:
                _put_back()  # and no block is active: the next one tries again
                raise
            hooks.answer_observer = note_answer
            hooks.request_observer = count_request
            hooks.class_observer = _class_defined
        _active += 1


def uninstall() -> None:
    """One recording block less: put the classes' own methods back after the last."""
    global _active
    with _lock:
        _active -= 1
        if _active:
            return
        hooks.answer_observer = None
        hooks.request_observer = None
        hooks.class_observer = None
        _put_back()


def is_installed(cls: type, name: str) -> bool:
    """Whether ``cls.name`` is its recording version now (while something records)."""
    return getattr(vars(cls).get(name), "_storage_mixins_recorded", False) is True


def _wrapper_classes() -> list[type]:
    classes: list[type] = []
    pending: list[type] = [StorageWrapper]
    while pending:
        cls = pending.pop()
        if cls not in classes:
            classes.append(cls)
            pending.extend(cls.__subclasses__())
    return classes


def _install_on(cls: type) -> None:
    for name in sorted(RECORDED_METHODS & set(vars(cls))):
        function = vars(cls)[name]
        if callable(function) and not is_installed(cls, name):
            recorded = _recorded(name, function)
            _patched.append((cls, name, function, recorded))
            setattr(cls, name, recorded)


def _put_back() -> None:
    """Put back each class's own method where its recording version is still
    set; anything else was set meanwhile (a patch), and stays."""
    for cls, name, function, recorded in _patched:
        if vars(cls).get(name) is recorded:
            setattr(cls, name, function)
    _patched.clear()


def _class_defined(cls: type) -> None:
    """A wrapper class defined while something records is recorded at once."""
    with _lock:
        if _active:
            _install_on(cls)


def _recorded(method: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
        state = current.get()
        if state is None:  # another thread's call, while this one records
            return function(self, *args, **kwargs)
        return recorded_call(state, self, method, function, args, kwargs)

    recorded._storage_mixins_recorded = True  # type: ignore[attr-defined]  # a function's own attribute
    return recorded
