"""Which lister lists a storage, and what its listing says: one per backend.

* :class:`~storage_mixins.backends.s3.listing.S3Lister` for django-storages'
  ``S3Storage`` (and its subclasses);
* :class:`~storage_mixins.backends.local.FileSystemLister` for
  ``FileSystemStorage``;
* :class:`~storage_mixins.backends.http.HTTPLister` for ``HTTPStorage``,
  which finds files by name and lists nothing (``Lister.lists`` is false);
* :class:`~storage_mixins.backends.listing.ListdirLister` for any other
  backend, and for a stack, whose directories are the union of its layers'.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import FileSystemStorage

from ..core.stack import backend_of, is_wrapper
from .http import HTTPLister, is_http
from .listing import Kind, ListdirLister, Lister
from .local import FileSystemKind, FileSystemLister
from .s3.client import is_s3
from .s3.listing import S3Kind, S3Lister

__all__ = ["kind_of", "lister_for"]


def lister_for(storage: Any) -> Lister:
    """The lister for ``storage``'s backend.

    Listing is a read, so single-storage wrappers (``ReadOnly``, ``Caching``,
    ``Logging``) are looked through to the backend they wrap; a ``Fallback``,
    whose directories are the union of its layers', is listed through its own
    ``listdir()``.
    """
    backend = backend_of(storage)
    if is_wrapper(backend):  # a router, which proxies a layer: isinstance would lie
        return ListdirLister(backend)
    if is_s3(backend):
        return S3Lister(backend)
    if is_http(backend):
        return HTTPLister(backend)
    if isinstance(backend, FileSystemStorage):
        return FileSystemLister(backend)
    return ListdirLister(backend)


def kind_of(lister: Lister) -> Kind:
    """What a listing by ``lister`` says of a name."""
    if isinstance(lister, S3Lister):
        return S3Kind(lister)
    if isinstance(lister, FileSystemLister):
        return FileSystemKind(lister)
    return Kind(lister)
