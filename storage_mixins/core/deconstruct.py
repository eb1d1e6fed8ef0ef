"""Storages as plain data, for ``deconstruct()``: what JSON, a task queue or a
migration can carry, and a wrapper can be rebuilt from.

A storage becomes the name of the ``STORAGES`` alias whose shared instance it
is, or else the ``{"BACKEND": ..., "OPTIONS": ...}`` dict of its own
``deconstruct()``, which wrappers accept as a storage
(``storage_mixins.core.resolve``). What cannot be made plain raises
``NotPlainData``, and the caller keeps the objects.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage

from .resolve import alias_of, storage_class

__all__ = ["NotPlainData", "plain"]


class NotPlainData(Exception):
    """Raised inside ``deconstruct()`` for a value plain data cannot rebuild."""


# A variadic parameter (``*storages``) has a keyword form for settings (``layers=``).
_KEYWORDS_OF_VARIADIC = {"storages": "layers"}


def plain(value: Any) -> Any:
    """``value`` as plain data: JSON's types, tuples, and storages as aliases
    or storage dicts. Raises ``NotPlainData`` for anything else."""
    if value is None or value.__class__ in (bool, int, float, str):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # SafeString and other str subclasses: a str
    if isinstance(value, os.PathLike):
        return os.fspath(value)  # FileSystemStorage(location=BASE_DIR / "media")
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(plain(item) for item in value)
    if isinstance(value, _StorageDict):  # a layer's layer, made plain already
        return value
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise NotPlainData(value)
        return {str(key): plain(item) for key, item in value.items()}
    if _is_storage(value):
        return _storage_spec(value)
    raise NotPlainData(value)


def _is_storage(value: object) -> bool:
    return not isinstance(value, type) and all(
        callable(getattr(value, method, None)) for method in ("open", "exists")
    )


class _StorageDict(dict[str, Any]):
    """A storage as ``STORAGES`` writes it, ``{"BACKEND": ..., "OPTIONS": ...}``:
    plain data to JSON, and to the migration writer (which asks for
    ``deconstruct()`` before it looks at the type) the storage's own
    constructor call, so migrations read as they always did."""

    def __init__(self, spec: dict[str, Any], deconstructed: tuple[Any, ...]) -> None:
        super().__init__(spec)
        self._deconstructed = deconstructed

    def deconstruct(self) -> tuple[Any, ...]:
        return self._deconstructed

    def __reduce__(self) -> tuple[Any, ...]:
        return (_StorageDict, (dict(self), self._deconstructed))


def _storage_spec(storage: object) -> str | dict[str, Any]:
    """The alias that ``storage`` is Django's instance of, or its storage dict."""
    alias = alias_of(storage)
    if alias is not None:
        return alias
    deconstruct = getattr(storage, "deconstruct", None)
    if not callable(deconstruct):
        raise NotPlainData(storage)
    try:
        path, args, kwargs = deconstruct()
        cls = storage_class(path)  # what resolving the dict will accept
    except (ValueError, ImproperlyConfigured) as exc:  # ValueError: e.g. a local class
        raise NotPlainData(storage) from exc
    # The arguments are those of the class the path names (for the instance of
    # a decorated storage class, that class, not its outermost wrapper).
    options = plain(_keywords(cls, args, kwargs) if args else dict(kwargs))
    spec: dict[str, Any] = {"BACKEND": path, "OPTIONS": options} if options else {"BACKEND": path}
    return _StorageDict(spec, (path, plain(tuple(args)), plain(dict(kwargs))))


def _keywords(cls: type[Storage], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``cls(*args, **kwargs)``'s arguments as keywords only, as ``STORAGES``
    OPTIONS pass them."""
    signature = inspect.signature(cls.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError as exc:
        raise NotPlainData(cls) from exc
    keywords: dict[str, Any] = {}
    parameters = list(signature.parameters.values())
    for parameter in parameters[1:]:  # after self
        if parameter.name not in bound.arguments:
            continue
        value = bound.arguments[parameter.name]
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            keywords.update(value)
        elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            keyword = _KEYWORDS_OF_VARIADIC.get(parameter.name)
            if keyword is None or keyword not in signature.parameters or keyword in bound.arguments:
                raise NotPlainData(cls)
            keywords[keyword] = list(value)
        elif parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise NotPlainData(cls)
        else:
            keywords[parameter.name] = value
    return keywords
