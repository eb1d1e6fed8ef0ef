"""The public surface, and an inventory of what each wrapper intercepts.

A proxy delegates every attribute it does not define, silently. This inventory
makes each interception explicit: if Django adds a storage method, or a wrapper
gains or loses an override, a test here fails until the tables are updated.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import wrapt
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
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
        "FileChangedError",
        "HTTPStorage",
        "Logging",
        "Placeholders",
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
    assert issubclass(storage_mixins.FileChangedError, OSError)
    # Errors are named by their public path (tracebacks, task results, pickles).
    assert storage_mixins.ReadOnlyError.__module__ == "storage_mixins"
    assert storage_mixins.FileChangedError.__module__ == "storage_mixins"
    assert issubclass(FallbackStorage, Fallback)
    assert storage_mixins.__version__


# -- a wrapper as a proxy: dir() and setting attributes -----------------------------

BUILDERS = {
    "StorageWrapper": StorageWrapper,
    "ReadOnly": ReadOnly,
    "Fallback": Fallback,
    "FallbackStorage": lambda storage: FallbackStorage([storage]),
    "Caching": Caching,
    "Logging": Logging,
}


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_dir_lists_what_hasattr_finds(fs: Any, build: Any) -> None:
    wrapper = build(fs)
    listed = set(dir(wrapper))
    own = {name for name in dir(type(wrapper)) if not name.startswith("_")}
    # The storage's, and the wrapper's public API: post_process only where the
    # storage has it (a staticfiles storage).
    assert set(dir(fs)) | own - {"post_process", "save_manifest"} == listed
    assert [name for name in listed if not hasattr(wrapper, name)] == []
    # Not the proxy's internals (wrapt's operators, __wrapped__, _self_ state).
    assert [name for name in listed if name.startswith("_self_")] == []
    assert listed & set(dir(wrapt.BaseObjectProxy)) <= set(dir(fs))


def test_dir_of_a_stack_lists_its_own_methods(fs: Any, mem: Any) -> None:
    stack = Fallback(fs, ReadOnly(mem))
    assert {"which", "layers", "write_layer", "on_delete"} <= set(dir(stack))
    assert {"invalidate", "cache_alias"} <= set(dir(Caching(stack)))
    assert "location" in dir(stack)  # its write layer's
    static = ReadOnly(ManifestStaticFilesStorage(location=fs.location))
    assert {"post_process", "save_manifest"} <= set(dir(static))
    assert "post_process" not in dir(ReadOnly(fs))


OPTIONS = {
    "StorageWrapper": {"storage"},
    "ReadOnly": {"storage"},
    "Fallback": {
        "layers", "writable", "shadow", "on_delete", "on_error", "failures", "retry_after",
    },
    "FallbackStorage": {
        "backends", "layers", "writable", "read_only", "shadow", "on_delete", "on_error",
        "failures", "retry_after", "placeholders",
    },
    "Caching": {
        "storage", "cache", "timeout", "missing_timeout", "contents", "max_content_size",
        "key_prefix", "listings", "listing_limit",
    },
    "Logging": {"storage", "logger", "level", "slow"},
}  # fmt: skip


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_a_wrappers_option_cannot_be_set_on_it(fs: Any, build: Any) -> None:
    """It would land on the storage and change nothing: build another wrapper."""
    wrapper = build(fs)
    cls = type(wrapper).__name__
    for name in OPTIONS[cls]:
        with pytest.raises(AttributeError, match=rf"{cls}\(\.\.\., {name}=\.\.\.\)") as caught:
            setattr(wrapper, name, 0)
        assert f"{name!r} is an option of {cls}" in str(caught.value)
        assert name not in vars(fs)


def test_setting_an_option_says_how_to_configure_it(fs: Any) -> None:
    cached = Caching(fs)
    with pytest.raises(AttributeError) as caught:
        cached.timeout = 0
    assert str(caught.value) == (
        "'timeout' is an option of Caching, given when it is built: build another, "
        "Caching(..., timeout=...); setting it here would change nothing (the storage's "
        "own attribute of that name, if it has one, is set on .__wrapped__)"
    )
    assert Caching(fs, timeout=0)._self_timeout == 0


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_a_storage_attribute_set_on_a_wrapper_reaches_the_storage(fs: Any, build: Any) -> None:
    """As Django's own tests and apps do (``storage.base_url = ...``)."""
    wrapper = build(fs)
    wrapper.location = "/srv/elsewhere"
    wrapper.base_url = "/elsewhere/"
    wrapper.file_permissions_mode = 0o640
    wrapper.added_by_an_app = True
    assert (fs.location, fs.base_url, fs.file_permissions_mode) == (
        "/srv/elsewhere",
        "/elsewhere/",
        0o640,
    )
    assert fs.added_by_an_app is True
    assert wrapper.file_permissions_mode == 0o640
    del wrapper.added_by_an_app
    assert not hasattr(fs, "added_by_an_app")
