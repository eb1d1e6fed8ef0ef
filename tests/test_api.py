"""The public surface, and an inventory of what each wrapper intercepts.

A proxy delegates every attribute it does not define, silently. This inventory
makes each interception explicit: if Django adds a storage method, or a wrapper
gains or loses an override, a test here fails until the tables are updated.
"""

from __future__ import annotations

import inspect

import pytest
import wrapt
from django.core.files.storage import Storage

import storage_mixins
from storage_mixins import (
    Caching,
    Fallback,
    FallbackStorage,
    Logging,
    ReadOnly,
    StorageWrapper,
)

# Every method of Django's storage API, plus the two private ones that
# Storage.open() and Storage.save() call.
STORAGE_API = {
    name for name, value in vars(Storage).items() if callable(value) and not name.startswith("__")
} | {"_open", "_save"}

INTERCEPTED = {
    ReadOnly: {"open", "_open", "save", "_save", "delete", "path", "url", "get_available_name"},
    Fallback: {
        "open", "_open", "save", "_save", "delete", "exists", "listdir", "size", "url",
        "path", "get_accessed_time", "get_created_time", "get_modified_time",
        "get_available_name", "is_name_available", "get_alternative_name",
        "generate_filename",
    },
    Caching: {
        "exists", "size", "get_accessed_time", "get_created_time", "get_modified_time",
        "listdir", "url", "open", "_open", "path", "save", "_save", "delete",
    },
    Logging: {
        "open", "_open", "save", "_save", "delete", "exists", "listdir", "size", "url",
        "path", "get_accessed_time", "get_created_time", "get_modified_time",
        "get_available_name",
    },
}  # fmt: skip
DELEGATED = {
    # to the wrapped storage
    ReadOnly: {
        "exists", "listdir", "size", "get_accessed_time",
        "get_created_time", "get_modified_time",
        "is_name_available", "get_alternative_name", "get_valid_name",
        "generate_filename",
    },
    # to the write layer (or the first layer when there is none)
    Fallback: {"get_valid_name"},
    # uncached: names are decided on fresh answers
    Caching: {
        "get_available_name", "is_name_available", "get_alternative_name",
        "get_valid_name", "generate_filename",
    },
    # no I/O of their own worth a record
    Logging: {"is_name_available", "get_alternative_name", "get_valid_name", "generate_filename"},
}  # fmt: skip


def defined_by(cls: type) -> set[str]:
    """Attributes a wrapper class defines itself, up to and including StorageWrapper."""
    names: set[str] = set()
    for klass in inspect.getmro(cls):
        names |= set(vars(klass))
        if klass is StorageWrapper:
            break
    return names


@pytest.mark.parametrize(
    "cls", [ReadOnly, Fallback, Caching, Logging], ids=lambda cls: cls.__name__
)
def test_every_storage_method_is_intercepted_or_deliberately_delegated(cls: type) -> None:
    unaccounted = STORAGE_API - INTERCEPTED[cls] - DELEGATED[cls]
    assert not unaccounted, f"decide how {cls.__name__} handles {sorted(unaccounted)}"
    assert not INTERCEPTED[cls] & DELEGATED[cls]
    assert defined_by(cls) & STORAGE_API == INTERCEPTED[cls] & STORAGE_API
    assert not defined_by(cls) & DELEGATED[cls]


def test_fallback_storage_changes_no_routing() -> None:
    own = set(vars(FallbackStorage)) & (STORAGE_API | {"is_name_available"})
    assert own == set()


def test_read_only_also_refuses_staticfiles_writers() -> None:
    assert {"post_process", "save_manifest"} <= defined_by(ReadOnly)


@pytest.mark.parametrize(
    "cls", [StorageWrapper, ReadOnly, Fallback, FallbackStorage, Caching, Logging]
)
def test_wrappers_are_c_backed_object_proxies(cls: type) -> None:
    assert issubclass(cls, wrapt.BaseObjectProxy)
    assert not issubclass(cls, wrapt.CallableObjectProxy)


def test_public_names() -> None:
    assert set(storage_mixins.__all__) == {
        "Caching",
        "Fallback",
        "FallbackStorage",
        "Logging",
        "describe",
        "ReadOnly",
        "ReadOnlyError",
        "ReadOnlyFile",
        "StorageWrapper",
        "is_read_only",
        "cached",
        "logged",
        "read_only",
    }
    assert issubclass(storage_mixins.ReadOnlyError, PermissionError)
    assert issubclass(FallbackStorage, Fallback)
    assert storage_mixins.__version__
