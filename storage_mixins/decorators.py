"""Class decorators: wrap a storage class where it is defined.

::

    @read_only
    class ProductionMedia(S3Storage):
        location = "media"

Calling a decorated class builds an instance of it and wraps that instance:
``ProductionMedia(**options)`` returns ``ReadOnly(<ProductionMedia instance>)``,
so ``STORAGES = {"production": {"BACKEND": "myproject.storages.ProductionMedia",
"OPTIONS": {...}}}`` builds the same. The options go to the storage class; a
decorator's own arguments go to its wrapper. Decorators apply from the bottom
up, as nested wrappers do: ``@cached(...)`` above ``@read_only`` builds
``Caching(ReadOnly(instance), ...)``.

A decorator builds the wrapper and nothing else: every behaviour is the
wrapper's own. The decorated class is a subclass of the class as written,
with the same name, module and docstring, so ``isinstance(storage,
ProductionMedia)`` and ``isinstance(storage, S3Storage)`` hold (the wrappers
are transparent proxies). A subclass of a decorated class is decorated the
same way: it is wrapped by the same wrappers, with its own attributes.

The instances rebuild from the decorated class and the arguments it was
called with: ``deconstruct()`` (for migrations), ``copy``, ``deepcopy`` and
``pickle`` give ``ProductionMedia(**options)`` again, the whole stack.

There is no ``fallback`` decorator: a ``Fallback`` stands for its write
layer (``isinstance`` and attribute reads see that layer), so a read-only
decorated class could not stay an instance of itself inside one. Declare a
``Fallback`` in ``STORAGES`` and decorate its layers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from django.core.files.storage import Storage

from .core.wrapper import StorageWrapper
from .wrappers.caching import Caching
from .wrappers.logging import Logging
from .wrappers.readonly import ReadOnly

__all__ = ["cached", "logged", "read_only", "wrapped_by"]

StorageClass = TypeVar("StorageClass", bound=type[Storage])

_STACKED_TYPES: dict[type, type] = {}


def wrapped_by(
    wrapper: type[StorageWrapper], **options: Any
) -> Callable[[StorageClass], StorageClass]:
    """A class decorator whose instances come wrapped in ``wrapper(instance, **options)``.

    ``options`` are checked against ``wrapper``'s signature when the class is
    decorated; their values are checked when an instance is built (an alias
    in ``CACHES``, say, may not be configured yet at import time).
    """
    if not (isinstance(wrapper, type) and issubclass(wrapper, StorageWrapper)):
        raise TypeError(f"wrapped_by() takes a storage_mixins wrapper class, not {wrapper!r}")
    _check_options(wrapper, options)

    def decorate(cls: StorageClass) -> StorageClass:
        return _decorated(cls, wrapper, options)

    return decorate


# A decorated class is a subclass of the class as written, whose instances
# (wrapped, but proxies) are instances of it: to a type checker, that class.
@overload
def read_only(cls: StorageClass, /) -> StorageClass: ...
@overload
def read_only(cls: None = None, /) -> Callable[[StorageClass], StorageClass]: ...
def read_only(cls: StorageClass | None = None, /) -> Any:
    """Wrap the instances of the decorated storage class in :class:`~storage_mixins.ReadOnly`.

    Use as ``@read_only`` or ``@read_only()``.
    """
    return _apply(ReadOnly, "read_only", cls, {})


@overload
def cached(cls: StorageClass, /) -> StorageClass: ...
@overload
def cached(cls: None = None, /, **options: Any) -> Callable[[StorageClass], StorageClass]: ...
def cached(cls: StorageClass | None = None, /, **options: Any) -> Any:
    """Wrap the instances in :class:`~storage_mixins.Caching` with ``options``
    (``cache``, ``timeout``, ``contents``…). Use as ``@cached`` or ``@cached(...)``."""
    return _apply(Caching, "cached", cls, options)


@overload
def logged(cls: StorageClass, /) -> StorageClass: ...
@overload
def logged(cls: None = None, /, **options: Any) -> Callable[[StorageClass], StorageClass]: ...
def logged(cls: StorageClass | None = None, /, **options: Any) -> Any:
    """Wrap the instances in :class:`~storage_mixins.Logging` with ``options``
    (``logger``, ``level``, ``slow``). Use as ``@logged`` or ``@logged(...)``."""
    return _apply(Logging, "logged", cls, options)


def _apply(wrapper: type[StorageWrapper], decorator: str, cls: Any, options: dict[str, Any]) -> Any:
    if cls is None:
        return wrapped_by(wrapper, **options)
    if not isinstance(cls, type):
        raise TypeError(
            f"@{decorator} decorates a storage class; its options are keywords, "
            f"e.g. @{decorator}(...), not {cls!r}"
        )
    return wrapped_by(wrapper, **options)(cls)


class StackedStorageType(type):
    """The metaclass of decorated storage classes: calling one builds the stack.

    ``__storage_wrappers__`` lists ``(wrapper, options)`` innermost first.
    """

    __storage_wrappers__: tuple[tuple[type[StorageWrapper], dict[str, Any]], ...]

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        storage = super().__call__(*args, **kwargs)
        for wrapper, options in cls.__storage_wrappers__:
            storage = wrapper(storage, **options)
        # The whole stack rebuilds from this class and these arguments.
        storage._self_built_by = (cls, args, kwargs)
        return storage


def _decorated(
    cls: StorageClass, wrapper: type[StorageWrapper], options: dict[str, Any]
) -> StorageClass:
    if not isinstance(cls, type):
        raise TypeError(f"a storage class decorator decorates a class, not {cls!r}")
    if issubclass(cls, StorageWrapper):
        raise TypeError(
            f"{cls.__qualname__} is a storage_mixins wrapper; decorate the storage it "
            f"wraps, or nest the wrappers: {wrapper.__name__}({cls.__name__}(...))"
        )
    if not all(callable(getattr(cls, method, None)) for method in ("open", "exists", "save")):
        raise TypeError(
            f"{cls.__qualname__} is not a storage class (it lacks open, exists or save); "
            "decorate a subclass of django.core.files.storage.Storage"
        )
    namespace = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "__storage_wrappers__": (*getattr(cls, "__storage_wrappers__", ()), (wrapper, options)),
    }
    return cast("StorageClass", _stacked_type(type(cls))(cls.__name__, (cls,), namespace))


def _stacked_type(metaclass: type) -> type:
    """``StackedStorageType``, combined with the metaclass the storage class already has."""
    if issubclass(metaclass, StackedStorageType):
        return metaclass
    if metaclass is type:
        return StackedStorageType
    if metaclass not in _STACKED_TYPES:
        _STACKED_TYPES[metaclass] = type(
            f"Stacked{metaclass.__name__}", (StackedStorageType, metaclass), {}
        )
    return _STACKED_TYPES[metaclass]


def _check_options(wrapper: type[StorageWrapper], options: dict[str, Any]) -> None:
    parameters = inspect.signature(wrapper.__init__).parameters
    keywords = [
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(keywords))
    if unknown:
        accepted = ", ".join(keywords) or "no options"
        raise TypeError(
            f"{wrapper.__name__} has no option {', '.join(map(repr, unknown))} "
            f"(it takes: {accepted})"
        )
