"""Where the modules of the flat layout of 0.1.0 went, so that what names them
still loads: pickles (a cache, a task queue: ``storage_mixins.base._rebuild``,
``storage_mixins.caching.Caching``…) and code that imported them
(``from storage_mixins.recording import record``).

Importing an old name gives the module that holds its contents now, under
the old name too; nothing is imported until something asks for it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["MOVED", "install"]

#: Old module (under ``storage_mixins.``) -> the module that has its contents now.
MOVED = {
    "backend_quirks": "backends.quirks",
    "base": "core.wrapper",
    "caching": "wrappers.caching.wrapper",
    "contents_cache": "services.contents_cache",
    "deconstruct": "core.deconstruct",
    "errors": "core.errors",
    "failover": "wrappers.fallback.failover",
    "fallback": "wrappers.fallback.wrapper",
    "introspection": "observability.describe",
    "labels": "core.labels",
    "listed_reader": "wrappers.caching.listed_reader",
    "listing_cache": "services.listing_cache",
    "listings": "backends.listing",
    "local_files": "backends.local_files",
    "local_writes": "backends.local_writes",
    "logging": "wrappers.logging",
    "lookup": "services.lookup",
    "metadata_cache": "services.metadata_cache",
    "names": "core.names",
    "naming": "wrappers.fallback.naming",
    "overlay": "wrappers.fallback.writes",
    "proxy": "core.proxy",
    "readonly": "wrappers.readonly",
    "recording": "observability.recording",
    "resolve": "core.resolve",
    "routing": "wrappers.fallback.routing",
    "signed_urls": "backends.signed_urls",
    "storage_api": "core.storage_api",
    "streaming": "services.streaming",
    "tombstones": "wrappers.fallback.tombstones",
    "transfers": "services.transfers",
    "url_arguments": "backends.url_arguments",
}

_PACKAGE = __name__.rpartition(".")[0]


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``storage_mixins.<old>`` as the module :data:`MOVED` names."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, old = fullname.rpartition(".")
        if package != _PACKAGE or old not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        old = spec.name.rpartition(".")[2]
        module = importlib.import_module(f"{_PACKAGE}.{MOVED[old]}")
        spec.loader_state = module.__spec__  # the import system sets the old name's next
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The module is imported already, under its own name: give it back its
        own spec (its file, which Django's autoreloader watches; what
        ``importlib.reload()`` runs again)."""
        module.__spec__ = module.__spec__.loader_state  # type: ignore[union-attr]  # set by create_module


_finder = _MovedModuleFinder()


def install() -> None:
    """Let the old names be imported (once per process)."""
    if _finder not in sys.meta_path:
        sys.meta_path.append(_finder)
