"""Where third-party backends answer differently from Django's storage contract,
and what ``Fallback`` does about it.

* A *lazy opener* returns a file from ``open()`` for a name it does not have
  and fails at the first read: django-storages' ``AzureStorage`` makes no
  request until then (``ResourceNotFoundError``). ``Fallback`` asks such a
  layer ``exists()`` before taking its ``open()`` as the answer.
* A *full-name lister* answers ``listdir(path)`` with every file below
  ``path``, by its full name, and no directories: ``AzureStorage`` again.
  ``Fallback`` turns its answer into the directories and base names of
  ``path``, as Django's ``listdir`` gives them and the other layers do.

The classes are looked up in ``sys.modules`` only (as in
``storage_mixins.core.errors``): an instance can only exist once its module is
imported, so nothing here imports a backend, or its SDK.
"""

from __future__ import annotations

import sys

__all__ = ["base_names", "lists_full_names", "opens_lazily"]

_LAZY_OPENERS = (("storages.backends.azure_storage", "AzureStorage"),)
_FULL_NAME_LISTERS = (("storages.backends.azure_storage", "AzureStorage"),)


def opens_lazily(backend: object) -> bool:
    """Whether ``backend.open(name)`` may succeed although ``name`` does not exist.

    ``backend`` is a raw backend: by ``type()``, as a wrapper proxies the
    class of what it wraps (a ``Fallback`` over Azure is no lazy opener).
    """
    return issubclass(type(backend), _loaded(_LAZY_OPENERS))


def lists_full_names(backend: object) -> bool:
    """Whether ``backend.listdir(path)`` gives full names of every file below
    ``path`` (a raw backend, as for :func:`opens_lazily`)."""
    return issubclass(type(backend), _loaded(_FULL_NAME_LISTERS))


def base_names(backend: object, path: str, names: list[str]) -> tuple[list[str], list[str]]:
    """The directories and files directly in ``path``, from the full names that
    a full-name lister gave for ``listdir(path)``.

    ``path`` is relative and normalised (no leading or trailing slash, ``""``
    for the root). Names outside ``path`` (under the backend's ``location``)
    are left out: ``AzureStorage.listdir("")`` lists the whole container.
    """
    location = (getattr(backend, "location", "") or "").strip("/")
    directory = "/".join(part for part in (location, path) if part)
    prefix = f"{directory}/" if directory else ""
    directories: dict[str, None] = {}
    files: dict[str, None] = {}
    for name in names:
        if not name.startswith(prefix):
            continue
        head, slash, _rest = name[len(prefix) :].partition("/")
        if slash:
            directories[head] = None
        elif head:
            files[head] = None
    return list(directories), list(files)


def _loaded(classes: tuple[tuple[str, str], ...]) -> tuple[type, ...]:
    found = []
    for module_name, class_name in classes:
        cls = getattr(sys.modules.get(module_name), class_name, None)
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)
