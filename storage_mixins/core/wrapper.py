"""The base of every wrapper: a transparent proxy around one storage.

``StorageWrapper`` is a ``wrapt.BaseObjectProxy`` (the C-backed proxy), so a
wrapper *is* its storage to the outside world: ``isinstance(ReadOnly(s3),
S3Storage)`` holds and backend attributes such as ``.location`` or
``.bucket_name`` read through. The single delegation point is ``__wrapped__``;
every attribute a wrapper does not define is looked up there.

That transparency has one trap: a method the wrapper does not override runs
with the *wrapped* storage as ``self``, so anything it calls internally (for
``Storage.save``: ``get_available_name`` and ``_save``) bypasses the wrapper.
Concrete wrappers therefore override every method whose behaviour they change,
including the private ones Django's templates call.

The base class also gives every wrapper the Django plumbing a storage needs:
``deconstruct()`` for migrations and background tasks, equality, ``repr()`` of
the whole stack, and ``copy``/``deepcopy``/``pickle`` support, all derived from
the arguments the wrapper was constructed with.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import TYPE_CHECKING, Any, ClassVar, Self

from django.core.files.base import File
from django.core.files.storage import Storage

from ..core import hooks
from . import resolve
from .deconstruct import NotPlainData, plain
from .labels import storage_label
from .proxy import Proxy
from .resolve import StorageSpec, resolve_storage

__all__ = ["StorageWrapper", "refuses_writes"]


if TYPE_CHECKING:
    # To a type checker a wrapper is also a Storage, as it is to isinstance():
    # it takes Django's storage API to its storage, and it goes wherever Django
    # takes a storage (FileField(storage=...), STORAGES). What the wrapped
    # backend adds (.location, .bucket_name) reads through as Any.
    class _StorageProxy(Proxy[Storage], Storage):
        pass

else:
    _StorageProxy = Proxy


class StorageWrapper(_StorageProxy):
    """A transparent proxy around one storage; intercepts nothing by itself.

    ``storage`` is a storage instance or the name of an alias in
    ``settings.STORAGES`` (resolved to Django's shared instance).
    """

    #: What this wrapper is, for the code that walks stacks
    #: (``storage_mixins.core.stack``): reads go to one of several layers…
    routes_layers: ClassVar[bool] = False
    #: …a read's answer is the wrapped storage's…
    passes_reads_through: ClassVar[bool] = False
    #: …``open(name, "rb")`` gives the wrapped storage's file, through
    #: :meth:`wrap_opened`. These two are read from the class itself only: a
    #: subclass may change what a read means, and says so again if it does not.
    opens_as_wrapped: ClassVar[bool] = False
    #: The path ``deconstruct()`` (and ``pickle``) names the class by, where it
    #: is not where the class is defined (``"storage_mixins.Caching"``): as
    #: Django's ``@deconstructible(path=...)``. Read from the class itself only.
    deconstruct_path: ClassVar[str | None] = None

    # Set by a class decorator on the outermost wrapper it builds: (the decorated
    # class, its arguments). See _construction().
    _self_built_by: tuple[type, tuple[Any, ...], dict[str, Any]] | None = None
    # The arguments as given (see __new__).
    _self_arguments: tuple[tuple[Any, ...], dict[str, Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        self = super().__new__(cls, *args, **kwargs)
        # Kept for deconstruct(), copying and pickling: the arguments as given,
        # aliases unresolved, so a rebuilt wrapper resolves them again.
        self._self_arguments = (args, kwargs)
        return self

    def __init__(self, storage: StorageSpec) -> None:
        super().__init__(resolve_storage(storage, owner=type(self).__name__))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hooks.wrapper_class_defined(cls)  # a recording active now records it too

    # -- what this wrapper is ------------------------------------------------

    @property
    def wrapped_storages(self) -> tuple[Storage, ...]:
        """What this wrapper wraps, in order (a stack's layers)."""
        return (self.__wrapped__,)

    @property
    def refuses_writes(self) -> bool:
        """Whether every write through this wrapper is refused (without trying one):
        by default, whether the wrapped storage refuses them (:func:`refuses_writes`).

        Wrappers that change this override it; ``is_read_only()`` reads it.
        """
        return refuses_writes(self.__wrapped__)

    def wrap_opened(self, file: File[Any], name: str) -> File[Any]:
        """The file this wrapper's ``open(name, "rb")`` gives for ``file``, which
        the storage below opened (``ReadOnly`` refuses its writes)."""
        return file

    def describe_node(self) -> tuple[str, list[tuple[str, Storage, str]]]:
        """This wrapper's line in :func:`~storage_mixins.describe`, and its children
        as ``(prefix, storage, suffix)``: what to write before and after each."""
        return type(self).__name__, [("", self.__wrapped__, "")]

    def identity_options(self) -> dict[str, object]:
        """The options that change what this wrapper answers about the files of
        what it wraps (``Caching`` keeps the answers of wrappers that differ in
        them apart). Wrappers with such options override it."""
        return {}

    def shallow_copy(self) -> Self:
        """Another proxy of the same storage that shares this wrapper's state (its
        ``_self_`` attributes as they are now), for a view that then replaces
        one of them (``Fallback.reading_through``)."""
        args, kwargs = self._self_arguments
        view = type(self).__new__(type(self), *args, **kwargs)
        Proxy.__init__(view, self.__wrapped__)
        # The proxy's own attributes (wrapt keeps them apart from the storage's).
        view.__self_dict__.update(self.__self_dict__)
        return view

    # -- a proxy's attributes ------------------------------------------------

    def __dir__(self) -> list[str]:
        """What ``hasattr()`` finds: the storage's attributes and this wrapper's
        public API (``which``, ``layers``…), not the proxy's internals."""
        # hasattr: some of a wrapper's names exist only where the storage has
        # them (ReadOnly.post_process).
        own = (name for name in dir(type(self)) if name[:1] != "_" and hasattr(self, name))
        return sorted({*dir(self.__wrapped__), *own})

    if not TYPE_CHECKING:  # to a type checker, a class with __setattr__ takes any name

        def __setattr__(self, name: str, value: Any) -> None:
            """Set ``name`` where a proxy does (the storage, unless the class has it),
            except a name the constructor takes as an option: it would land on the
            storage and change nothing, so it raises ``AttributeError``. What is
            set on the storage is announced (``hooks.storage_attribute_set``)."""
            if name in _options(type(self)):
                cls = type(self).__name__
                raise AttributeError(
                    f"{name!r} is an option of {cls}, given when it is built: build "
                    f"another, {cls}(..., {name}=...); setting it here would change nothing "
                    "(the storage's own attribute of that name, if it has one, is set on "
                    ".__wrapped__)"
                )
            super().__setattr__(name, value)  # a backend attribute lands on the backend
            if name[:6] != "_self_":
                hooks.storage_attribute_set.send(sender=type(self), name=name)

    # -- Django plumbing ---------------------------------------------------

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        """Return ``(path, args, kwargs)`` that rebuild an equal wrapper.

        Used by ``makemigrations`` for ``FileField(storage=...)``, and by apps
        that rebuild a storage elsewhere (Wagtail deletes files in a background
        task, whose arguments must be JSON). Where every storage among the
        arguments can be rebuilt from plain data, the result is plain data:

        * a storage given as a ``STORAGES`` alias, or that *is* Django's shared
          instance of an alias, is that alias, so neither migrations nor task
          queues get the alias's settings (bucket names, credentials);
        * any other storage is the ``{"BACKEND": ..., "OPTIONS": ...}`` dict of
          its own ``deconstruct()`` (wrappers inside wrappers too), which the
          wrappers accept as a storage.

        A storage that cannot be rebuilt that way (no ``deconstruct()``, one
        that fails, positional arguments, options that are not plain data)
        leaves the arguments as they were given, objects included.
        """
        factory, args, kwargs = self._construction()
        try:
            return _import_path(factory), plain(args), plain(kwargs)
        except NotPlainData:
            return _import_path(factory), args, dict(kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StorageWrapper) or type(other) is not type(self):
            return NotImplemented
        return _comparable(self) == _comparable(other)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash((type(self), len(self._self_arguments[0])))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._repr_arguments())})"

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_arguments(self) -> list[str]:
        _args, kwargs = self._self_arguments
        options = [
            f"{key}={_repr_option(value)}" for key, value in kwargs.items() if key != "storage"
        ]
        return [storage_label(self.__wrapped__), *options]

    def _construction(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        """What rebuilds this storage: its class and arguments, or, for the
        instance of a decorated storage class (see ``storage_mixins.decorators``),
        that class and the arguments it was called with."""
        if self._self_built_by is not None:
            return self._self_built_by
        args, kwargs = self._self_arguments
        return type(self), args, kwargs

    def __copy__(self) -> Any:
        factory, args, kwargs = self._construction()
        return factory(*args, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        factory, args, kwargs = self._construction()
        args, kwargs = copy.deepcopy((args, kwargs), memo)
        return factory(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # By the class's public path where it has one, so that a pickle
        # outlives a move of the module that defines it.
        factory, args, kwargs = self._construction()
        path = factory.__dict__.get("deconstruct_path")
        return (_rebuild, (path or factory, args, kwargs))

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return self.__reduce__()


resolve.accept_storage_classes(StorageWrapper)


def refuses_writes(storage: object) -> bool:
    """Whether ``storage`` refuses every write, without trying one: a wrapper
    says so with its ``refuses_writes`` property; any other storage (a backend
    that is read-only by construction, such as ``HTTPStorage``) with a
    ``refuses_writes = True`` attribute of its class. An instance attribute
    says nothing: it is not what the storage's methods do."""
    if issubclass(type(storage), StorageWrapper):
        return bool(storage.refuses_writes)  # type: ignore[attr-defined]  # a wrapper's
    return getattr(type(storage), "refuses_writes", False) is True


@functools.cache
def _options(cls: type) -> frozenset[str]:
    """The names ``cls``'s constructors take (its own and its bases', down to
    :class:`StorageWrapper`): a wrapper's options."""
    names: set[str] = set()
    for klass in cls.__mro__[: cls.__mro__.index(StorageWrapper) + 1]:
        if "__init__" in vars(klass):
            parameters = inspect.signature(vars(klass)["__init__"]).parameters.values()
            names.update(
                parameter.name
                for parameter in parameters
                if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
            )
    names.discard("self")
    return frozenset(names)


def _repr_option(value: Any) -> str:
    is_storage = not isinstance(value, str | type) and callable(getattr(value, "exists", None))
    return storage_label(value) if is_storage else repr(value)


def _rebuild(factory: type | str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """What a pickled wrapper is rebuilt by (its name is in pickles: keep it)."""
    if isinstance(factory, str):
        factory = resolve.storage_class(factory, setting="pickle")
    return factory(*args, **kwargs)


def _import_path(cls: type) -> str:
    return cls.__dict__.get("deconstruct_path") or f"{cls.__module__}.{cls.__qualname__}"


def _comparable(value: Any) -> object:
    """A structural form of ``value``, as Django's migration autodetector sees it."""
    if isinstance(value, list | tuple):
        return tuple(_comparable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _comparable(item)) for key, item in value.items()))
    if not isinstance(value, type) and callable(getattr(value, "deconstruct", None)):
        path, args, kwargs = value.deconstruct()
        return (path, _comparable(args), _comparable(kwargs))
    return value
