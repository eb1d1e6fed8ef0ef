"""Composable wrappers for Django storages.

Layer them around any storage::

    Fallback(FileSystemStorage(), ReadOnly(S3Storage()))

* :class:`Fallback` reads through layers in order and writes to one layer;
* :class:`ReadOnly` refuses every write before any I/O happens;
* :class:`Caching` keeps metadata (and optionally contents) of slow storages;
* :class:`Logging` logs every call: which layer answered, what, how fast;
* :class:`FallbackStorage` is the ready-made stack, configured from settings;
* :class:`HTTPStorage` reads production's media from the URL they are
  published under, with no credentials: read-only by construction;
* :class:`Placeholders`, last in a stack, makes up the files no layer has
  (images at their real size), for development without production's media;
* :func:`read_only`, :func:`cached` and :func:`logged` wrap a storage class
  where it is defined.

The package is layered, and imports only point down (docs/architecture.rst):
``core`` (wrappers, stacks, names, hook points), ``backends`` (what is known
of S3, local disks and the others), ``services`` (caches, listings,
transfers), ``wrappers``, ``observability``, and on top the Django
integration: this module, settings, checks, commands, middleware, panel.
"""

from . import moved_modules
from .backends.http import HTTPStorage
from .core.errors import FileChangedError, ReadOnlyError
from .core.files import ReadOnlyFile
from .core.stack import is_read_only
from .core.wrapper import StorageWrapper
from .decorators import cached, logged, read_only
from .fallback_storage import FallbackStorage
from .observability.describe import describe
from .placeholders import Placeholders
from .wrappers.caching import Caching
from .wrappers.fallback import Fallback
from .wrappers.logging import Logging
from .wrappers.readonly import ReadOnly

moved_modules.install()

__all__ = [
    "Caching",
    "Fallback",
    "FallbackStorage",
    "FileChangedError",
    "HTTPStorage",
    "Logging",
    "Placeholders",
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
