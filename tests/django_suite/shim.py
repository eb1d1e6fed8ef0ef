"""Make every ``FileSystemStorage`` that Django's tests build a wrapped one.

Django's tests build file system storages in many ways: ``FileSystemStorage(...)``
in a test or at a models module's import, subclasses of it defined in the tests
(``CustomStorage(FileSystemStorage)``), ``StaticFilesStorage`` and the manifest
storages, the staticfiles finders' storages, and the ``STORAGES`` handler. All of
them go through ``FileSystemStorage.__new__``, so that is the one place the shim
changes: while installed, ``FileSystemStorage.__new__`` builds and initialises
the real storage, then returns ``wrap(real)``. Python does not run ``__init__``
again on what ``__new__`` returns, since a wrapper is not an instance of the
class by type (only by ``isinstance``, which wrapt proxies), so each storage is
initialised exactly once, with the arguments the test gave.

Copies and pickles of the real storage (a wrapper's ``deepcopy`` copies the
storage it wraps) are rebuilt without wrapping: ``__reduce_ex__`` names
:func:`_new_unwrapped` as the constructor in place of ``copyreg.__newobj__``.

A subclass that defines its own ``__new__`` would reach the shim through
``super()``, too late to wrap what its own ``__new__`` returns: the shim
refuses it loudly rather than silently leaving it unwrapped.
"""

from __future__ import annotations

import copyreg
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.core.files.storage import FileSystemStorage

__all__ = ["WRAPPERS", "install", "installed", "uninstall"]


def _wrapper(real: Any) -> Any:
    from storage_mixins import StorageWrapper

    return StorageWrapper(real)


def _read_only(real: Any) -> Any:
    from storage_mixins import ReadOnly

    return ReadOnly(real)


def _fallback(real: Any) -> Any:
    from storage_mixins import Fallback

    return Fallback(real)


def _fallback_over_read_only(real: Any) -> Any:
    from django.core.files.storage import InMemoryStorage

    from storage_mixins import Fallback, ReadOnly

    return Fallback(real, ReadOnly(InMemoryStorage()))


def _logging(real: Any) -> Any:
    from storage_mixins import Logging

    return Logging(real)


def _caching(real: Any) -> Any:
    from storage_mixins import Caching

    return Caching(real)


# The wrapper configurations, by the name the allowlist and the command line
# use, and what each builds around a file system storage ``fs``.
WRAPPERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "wrapper": ("StorageWrapper(fs)", _wrapper),
    "readonly": ("ReadOnly(fs)", _read_only),
    "fallback": ("Fallback(fs)", _fallback),
    "fallback-readonly": ("Fallback(fs, ReadOnly(InMemoryStorage()))", _fallback_over_read_only),
    "logging": ("Logging(fs)", _logging),
    "caching": ("Caching(fs)", _caching),
}

_ORIGINAL_NEW = FileSystemStorage.__dict__["__new__"]  # Django's @deconstructible one
_wrapping_off: ContextVar[bool] = ContextVar("django_suite_wrapping_off", default=False)
_installed: str | None = None


def installed() -> str | None:
    """The name of the wrapper configuration in force, if any."""
    return _installed


def install(name: str) -> None:
    """Wrap every ``FileSystemStorage`` built from now on in ``WRAPPERS[name]``."""
    global _installed
    if _installed is not None:
        raise RuntimeError(f"the {_installed!r} shim is installed already")
    _label, wrap = WRAPPERS[name]
    original_new = _ORIGINAL_NEW.__func__

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        if type.__getattribute__(cls, "__new__") is not __new__:
            raise RuntimeError(
                f"{cls.__qualname__} defines its own __new__, which the django-suite "
                "shim cannot wrap (see tests/django_suite/shim.py)"
            )
        real = original_new(cls, *args, **kwargs)
        real.__init__(*args, **kwargs)
        if _wrapping_off.get():
            return real
        token = _wrapping_off.set(True)  # what a wrapper builds stays unwrapped
        try:
            return wrap(real)
        finally:
            _wrapping_off.reset(token)

    FileSystemStorage.__new__ = staticmethod(__new__)
    FileSystemStorage.__reduce_ex__ = _reduce_ex
    if name == "logging":
        _format_every_record()
    _installed = name


def uninstall() -> None:
    """Undo :func:`install`: storages built from now on are plain again."""
    global _installed
    FileSystemStorage.__new__ = _ORIGINAL_NEW
    if "__reduce_ex__" in FileSystemStorage.__dict__:
        del FileSystemStorage.__reduce_ex__
    _installed = None


def _new_unwrapped(cls: type, *args: Any) -> Any:
    """What ``copy`` and ``pickle`` rebuild a real storage with: no wrapper."""
    return _ORIGINAL_NEW.__func__(cls, *args)


def _reduce_ex(self: Any, protocol: Any) -> Any:
    reduced = object.__reduce_ex__(self, protocol)
    if isinstance(reduced, tuple) and reduced[0] is copyreg.__newobj__:
        reduced = (_new_unwrapped, *reduced[1:])
    return reduced


class _FormattingHandler(logging.Handler):
    """Formats every record; unlike the standard handlers' ``emit``, lets a
    formatting error propagate, so a record that cannot be rendered fails the
    test that logged it."""

    records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        _FormattingHandler.records += 1


def _format_every_record() -> None:
    # Logging(fs) logs at DEBUG; without this its records would not even be built.
    logger = logging.getLogger("storage_mixins")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_FormattingHandler())
    logger.propagate = False  # Django's tests assert on some loggers' output
