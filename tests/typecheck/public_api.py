"""The public API as a user's code sees it, for mypy (``tox -e typecheck``).

Never run, only type-checked: each ``assert_type`` states what a type checker
must infer, and each call states what it must accept, so an annotation in
storage_mixins that is wrong for its users fails the typecheck environment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_type

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage
from django.db import models

from storage_mixins import (
    Caching,
    Fallback,
    FallbackStorage,
    Logging,
    ReadOnly,
    ReadOnlyError,
    ReadOnlyFile,
    StorageWrapper,
    cached,
    describe,
    is_read_only,
    logged,
    read_only,
)
from storage_mixins.observability.recording import Recording, record

local = FileSystemStorage(location="/srv/media")

# A wrapper takes a storage, a STORAGES alias or a {"BACKEND": ...} dict...
production = ReadOnly("production")
stack = Fallback(local, production, on_delete="hide")
Fallback(layers=["default", {"BACKEND": "storages.backends.s3.S3Storage"}], writable=0)
cache_stack = Caching(Logging(stack, level="INFO"), timeout=60)
FallbackStorage(["default", "production"], writable="default")

# ...and is a storage wherever Django takes one.
plain: Storage = stack
models.FileField(storage=cache_stack)
models.ImageField(storage=lambda: production)

# Django's storage API, with Django's types.
assert_type(stack.exists("a.txt"), bool)
assert_type(stack.open("a.txt"), File[Any])
assert_type(stack.save("a.txt", ContentFile(b"a")), str)
assert_type(stack.listdir(""), tuple[list[str], list[str]])
assert_type(stack.size("a.txt"), int)
assert_type(stack.url("a.txt"), str)
assert_type(stack.path("a.txt"), str)
assert_type(stack.get_modified_time("a.txt"), datetime)
assert_type(stack.get_available_name("a.txt", max_length=100), str)
assert_type(cache_stack.exists("a.txt"), bool)
assert_type(production.open("a.txt"), ReadOnlyFile)
opened: File[Any] = production.open("a.txt")
assert_type(production.url("a.txt"), str)
stack.delete("a.txt")

# Backend attributes read through to the storage a wrapper proxies.
stack.location  # noqa: B018 - the expression is what is checked

# What only the wrappers have.
assert_type(stack.layers, tuple[Storage, ...])
assert_type(stack.write_layer, Storage | None)
assert_type(stack.which("a.txt"), Storage | None)
assert_type(stack.breaker_states(), list[tuple[Storage, str]])
assert_type(stack.refuses_writes, bool)
assert_type(is_read_only(production), bool)
assert_type(describe(stack), str)
assert_type(stack.deconstruct(), tuple[str, tuple[Any, ...], dict[str, Any]])
wrapper: StorageWrapper = production


# Files opened through ReadOnly read, and refuse writes.
def read(file: ReadOnlyFile) -> None:
    with file.open("rb") as handle:
        assert_type(handle, ReadOnlyFile)


read(production.open("a.txt"))


# A decorated storage class stays that class.
@read_only
class ProductionMedia(FileSystemStorage):
    pass


@cached(timeout=300)
@logged()
@read_only()
class CachedProductionMedia(FileSystemStorage):
    pass


assert_type(ProductionMedia(location="/srv/production"), ProductionMedia)
assert_type(CachedProductionMedia(), CachedProductionMedia)


# Errors say what was refused.
def refused(error: ReadOnlyError) -> tuple[str, object, object, str | None]:
    return error.operation, error.name, error.storage, error.reason


# Recording the calls of a block.
with record(detail=True) as recording:
    stack.exists("a.txt")
assert_type(recording, Recording)
assert_type(recording.summary(), str)
