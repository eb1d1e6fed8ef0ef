"""Composable wrappers for Django storages.

Layer them around any storage::

    Fallback(FileSystemStorage(), ReadOnly(S3Storage()))

* :class:`Fallback` reads through layers in order and writes to one layer;
* :class:`ReadOnly` refuses every write before any I/O happens;
* :class:`Caching` keeps metadata (and optionally contents) of slow storages;
* :class:`Logging` logs every call: which layer answered, what, how fast;
* :class:`FallbackStorage` is the ready-made stack, configured from settings;
* :func:`read_only`, :func:`cached` and :func:`logged` wrap a storage class
  where it is defined.
"""

from .base import StorageWrapper, is_read_only
from .caching import Caching
from .decorators import cached, logged, read_only
from .errors import ReadOnlyError
from .fallback import Fallback
from .fallback_storage import FallbackStorage
from .introspection import describe
from .logging import Logging
from .readonly import ReadOnly, ReadOnlyFile

__all__ = [
    "Caching",
    "Fallback",
    "FallbackStorage",
    "Logging",
    "ReadOnly",
    "ReadOnlyError",
    "ReadOnlyFile",
    "StorageWrapper",
    "cached",
    "describe",
    "is_read_only",
    "logged",
    "read_only",
]

__version__ = "0.1.0"
