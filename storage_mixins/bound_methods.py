"""Hot methods bound on a wrapper's instance, while its class's method is the one bound.

``Fallback.exists`` and ``Caching.exists`` are answered by a function stored on
the wrapper's proxy, which holds the state it reads: found in the proxy's own
attributes, it costs one lookup where a method that reads the wrapper's state
costs two (``StorageWrapper._bind_hot_paths``; ``benchmarks/hot_paths.py``).

A function on the instance hides its class's method, so the binding stands only
while nothing has changed that method. Every class assignment and deletion on a
wrapper class (its metaclass, ``base.WrapperType``) brings the instances back in
line:

* a recording installs its versions of the methods on the classes
  (``storage_mixins.recording``): while it runs, the bindings are off;
* a test that patches the class (``mock.patch.object(Fallback, "exists")``)
  reaches every instance, as it does any class;
* a subclass that overrides the method is never bound;
* whatever is set on the instance itself (``monkeypatch.setattr(stack,
  "exists", ...)``) is left alone, and kept.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["bind", "class_changed", "declare"]

# The instances with bindings, by id: a WeakSet would compare them, and equal
# stacks are distinct objects.
_bound: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_names: set[str] = set()  # every name ever bound, for class_changed() to filter on
_lock = threading.RLock()  # reentrant: a change made while syncing syncs again
_NOTHING = object()
# (class, name) -> the function its body defined, whatever is set there later.
_declared: dict[tuple[type, str], Any] = {}


def declare(cls: type) -> None:
    """Remember the methods ``cls``'s body defines (before anything patches them)."""
    for name, value in vars(cls).items():
        if callable(value):
            _declared[cls, name] = _unrecorded(value)


def bind(instance: Any, declaring: type, functions: dict[str, Callable[..., Any]]) -> None:
    """Answer ``instance.<name>`` with ``functions[name]`` from the proxy's own
    attributes, for as long as ``type(instance).<name>`` is ``declaring``'s own
    method."""
    with _lock:
        instance._self_bound = {
            name: (function, _declared[declaring, name]) for name, function in functions.items()
        }
        _names.update(functions)
        _bound[id(instance)] = instance
        _sync(instance)


def class_changed(name: str) -> None:
    """A wrapper class's attribute ``name`` was set or deleted."""
    if name in _names:
        with _lock:
            for instance in list(_bound.values()):
                _sync(instance)


def _sync(instance: Any) -> None:
    for name, (function, method) in instance._self_bound.items():
        wanted = getattr(type(instance), name, None) is method
        own = _own_value(instance, name)
        if own is _NOTHING:
            if wanted:
                setattr(instance, name, function)  # wrapt keeps a name its class has on the proxy
        elif own is function and not wanted:
            delattr(instance, name)
        # Anything else was set on the instance by someone else: theirs.


def _own_value(instance: Any, name: str) -> Any:
    """What the proxy itself holds under ``name``, or ``_NOTHING``. (Its
    ``__dict__`` is the wrapped object's: an own value is what hides the class's.)"""
    value = object.__getattribute__(instance, name)
    declared = getattr(type(instance), name, None)
    if value is declared or (
        getattr(value, "__self__", None) is instance
        and getattr(value, "__func__", None) is declared
    ):
        return _NOTHING
    return value


def _unrecorded(method: Any) -> Any:
    """``method``, or, while a recording has its version installed, the original."""
    while getattr(method, "_storage_mixins_recorded", False) is True:
        method = method.__wrapped__
    return method
