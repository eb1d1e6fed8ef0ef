"""The stacks whose pickles and ``deconstruct()`` output 0.1.0 wrote (the
fixtures next to this module), built the same way by today's code.

Locations are fixed strings, so the fixtures do not depend on where they are
made; nothing here is read or written.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import (
    Caching,
    Fallback,
    FallbackStorage,
    Logging,
    ReadOnly,
    ReadOnlyError,
    cached,
    read_only,
)

LOCAL = "/srv/storage-mixins-legacy/media"
PRODUCTION = "/srv/storage-mixins-legacy/production"


@read_only
class ReadOnlyProduction(FileSystemStorage):
    """A decorated storage class, as a project declares one."""


@cached(timeout=60)
@read_only
class CachedReadOnlyProduction(FileSystemStorage):
    """Two decorators: Caching(ReadOnly(instance))."""


def local() -> FileSystemStorage:
    return FileSystemStorage(location=LOCAL, base_url="/media/")


def production() -> FileSystemStorage:
    return FileSystemStorage(location=PRODUCTION, base_url="https://cdn.example/media/")


def stacks() -> dict[str, Any]:
    """Every stack the fixtures hold, by label."""
    return {
        "ReadOnly": ReadOnly(production()),
        "Logging": Logging(local(), logger="legacy", level="INFO", slow=0.5),
        "Caching": Caching(
            production(), timeout=60, missing_timeout=5, listings=False, key_prefix="legacy"
        ),
        "Fallback": Fallback(ReadOnly(production()), local(), on_delete="hide"),
        "Fallback, layers=": Fallback(
            layers=[local(), ReadOnly(production())], on_error="skip", failures=2
        ),
        "Caching(Fallback)": Caching(Fallback(ReadOnly(production()), local()), timeout=30),
        "FallbackStorage": FallbackStorage(backends=[production(), local()]),
        "decorated": ReadOnlyProduction(location=PRODUCTION),
        "decorated twice": CachedReadOnlyProduction(location=PRODUCTION),
        "aliases": Fallback("local", ReadOnly("production")),
        "dicts": Fallback(
            {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": LOCAL},
            },
            ReadOnly({"BACKEND": "django.core.files.storage.InMemoryStorage"}),
        ),
    }


def errors() -> dict[str, Any]:
    """Exceptions a task queue may pickle."""
    return {"ReadOnlyError": ReadOnlyError("save", "a.txt", "ReadOnly(...)", "it is read-only")}


def in_memory() -> Any:
    """A stack over an InMemoryStorage: pickled with its (empty) files."""
    return Fallback(ReadOnly(InMemoryStorage()), local())
