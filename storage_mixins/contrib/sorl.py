"""sorl-thumbnail: a key-value store that records storages by ``STORAGES`` alias.

sorl-thumbnail records where each source and thumbnail lives, and rebuilds
that storage later (``manage.py thumbnail cleanup``, and every render that
finds the thumbnail in its store). It records a storage as an alias only if
the alias's ``BACKEND`` class ``is storage.__class__``; otherwise as the dotted
path of ``storage.__class__``, rebuilt later with no arguments. Through a
wrapper, ``__class__`` is the wrapped (write layer's) class, as ``isinstance``
transparency requires, so sorl would rebuild a bare ``FileSystemStorage()``
at ``MEDIA_ROOT``: production-only sources then look missing to ``thumbnail
cleanup``, and thumbnail URLs point at ``MEDIA_URL``.

Set ``THUMBNAIL_KVSTORE = "storage_mixins.contrib.sorl.KVStore"``: sorl's own
cached-database store, except that a storage which *is* Django's shared
instance of an alias is recorded under that alias, so sorl rebuilds exactly
that stack. Keys, tables and cache entries are sorl's, unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from sorl.thumbnail.kvstores.cached_db_kvstore import KVStore as CachedDBKVStore

from ..core.resolve import alias_of

__all__ = ["KVStore"]


class KVStore(CachedDBKVStore):  # type: ignore[misc]  # sorl-thumbnail is untyped
    """sorl's ``cached_db_kvstore.KVStore``, recording storages by alias."""

    def _set(self, key: str, value: Any, identity: str = "image") -> None:
        if identity == "image":
            alias = alias_of(value.storage)
            if alias is not None:
                value = copy.copy(value)  # the caller's image keeps sorl's behaviour
                backend_name = value.serialize_storage

                def serialize_storage(use_backend_name: bool = False) -> str:
                    return backend_name(True) if use_backend_name else alias

                value.serialize_storage = serialize_storage
        super()._set(key, value, identity)
