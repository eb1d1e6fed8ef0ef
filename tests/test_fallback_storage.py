"""FallbackStorage: configuration from settings, aliases, dotted paths and dicts."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages

from storage_mixins import Fallback, FallbackStorage, ReadOnly, is_read_only
from tests.conformance import read
from tests.spies import ReadOnlyBackend


class CountingStorage(InMemoryStorage):
    """Counts how often it is instantiated (the old package did it per call)."""

    instances = 0

    def __init__(self, **kwargs: Any) -> None:
        type(self).instances += 1
        super().__init__(**kwargs)


COUNTING = f"{__name__}.CountingStorage"


@pytest.fixture(autouse=True)
def _reset_counter() -> None:
    CountingStorage.instances = 0


def test_is_a_fallback() -> None:
    storage = FallbackStorage(["local", "production"])
    assert isinstance(storage, Fallback)
    assert isinstance(storage, FileSystemStorage)
    assert storage.write_layer is storages["local"]
    assert isinstance(storage.layers[1], ReadOnly)
    assert storage.layers[1].__wrapped__ is storages["production"]
    assert repr(storage).startswith("FallbackStorage(FileSystemStorage(")
    assert repr(storage).endswith(", ReadOnly(InMemoryStorage()))")


def test_backends_from_the_legacy_setting(settings: Any) -> None:
    settings.FALLBACK_STORAGES = [
        "django.core.files.storage.FileSystemStorage",
        COUNTING,
    ]
    storage = FallbackStorage()
    assert isinstance(storage.layers[0], FileSystemStorage)
    assert isinstance(storage.layers[1].__wrapped__, CountingStorage)
    assert storage.deconstruct() == ("storage_mixins.FallbackStorage", (), {})


def test_backends_are_built_once(settings: Any) -> None:
    settings.FALLBACK_STORAGES = [COUNTING, COUNTING]
    storage = FallbackStorage()
    for _ in range(5):
        storage.save("a.txt", ContentFile(b"x"))
        storage.exists("a.txt")
        storage.url("a.txt")
        storage.listdir("")
    assert CountingStorage.instances == 2


@pytest.mark.parametrize("value", [None, [], ()], ids=["missing", "empty-list", "empty-tuple"])
def test_missing_or_empty_setting(settings: Any, value: Any) -> None:
    if value is None:
        del settings.FALLBACK_STORAGES
    else:
        settings.FALLBACK_STORAGES = value
    with pytest.raises(ImproperlyConfigured, match="FALLBACK_STORAGES is missing or empty"):
        FallbackStorage()


def test_setting_must_be_a_list(settings: Any) -> None:
    settings.FALLBACK_STORAGES = "django.core.files.storage.FileSystemStorage"
    with pytest.raises(ImproperlyConfigured, match="must be a list of backends, not str"):
        FallbackStorage()


def test_dict_backends() -> None:
    storage = FallbackStorage(
        [
            {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            {
                "BACKEND": "django.core.files.storage.InMemoryStorage",
                "OPTIONS": {"base_url": "https://cdn.example/"},
            },
        ]
    )
    assert storage.url("missing.jpg") == "https://cdn.example/missing.jpg"


def test_instance_backends(fs: Any, mem: Any) -> None:
    storage = FallbackStorage([fs, mem])
    assert storage.layers[0] is fs
    assert storage.layers[1].__wrapped__ is mem


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ("nope", "'nope' is not an alias in settings.STORAGES"),
        ("no.such.Storage", "neither an alias in settings.STORAGES nor an importable"),
        ({"OPTIONS": {}}, "has no 'BACKEND' key"),
        ({"BACKEND": "no.such.Storage"}, "Could not find backend 'no.such.Storage'"),
        (42, "must be STORAGES aliases, dotted paths"),
    ],
)
def test_unresolvable_backend(backend: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        FallbackStorage(["local", backend])


def test_writable_by_index_and_alias() -> None:
    by_index = FallbackStorage(["production", "local"], writable=1)
    by_alias = FallbackStorage(["production", "local"], writable="local")
    for storage in (by_index, by_alias):
        assert storage.write_layer is storages["local"]
        assert is_read_only(storage.layers[0])
        assert repr(storage).endswith(", writable=1)")
        storage.save("a.txt", ContentFile(b"x"))
    assert storages["local"].exists("a.txt")
    assert not storages["production"].exists("a.txt")


def test_a_backend_read_only_by_construction_is_not_wrapped_in_read_only() -> None:
    storage = FallbackStorage([{"BACKEND": "tests.spies.ReadOnlyBackend"}, "local"], writable=1)
    assert type(storage.layers[0]) is ReadOnlyBackend  # nothing to guard: it cannot write
    assert storage.write_layer is storages["local"]


@pytest.mark.parametrize(
    ("writable", "message"),
    [(5, "out of range"), ("archive", "not one of the backends"), (1.0, "backend index")],
)
def test_invalid_writable(writable: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        FallbackStorage(["local", "production"], writable=writable)


def test_read_only_false_leaves_backends_unwrapped() -> None:
    storage = FallbackStorage(["local", "production"], read_only=False)
    assert storage.layers == (storages["local"], storages["production"])
    assert repr(storage).endswith(", read_only=False)")
    storages["production"].save("p.txt", ContentFile(b"production"))
    # Still: writes go to the write layer only, deletes never reach the others.
    name = storage.save("p.txt", ContentFile(b"dev"))
    assert name != "p.txt"
    storage.delete("p.txt")
    assert read(storages["production"], "p.txt") == b"production"


def test_already_read_only_backends_are_not_wrapped_twice(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "production"}},
    }
    storage = FallbackStorage(["local", "archive"])
    assert storage.layers[1] is storages["archive"]


def test_configured_in_storages_in_any_order(settings: Any, tmp_path: Any) -> None:
    # "media" refers to aliases defined after it, "archive" to one before.
    # (Not "default": overridden settings lose its OPTIONS on Django 4.2.)
    settings.STORAGES = {
        "media": {
            "BACKEND": "storage_mixins.FallbackStorage",
            "OPTIONS": {"backends": ["dev", "archive"]},
        },
        "archive": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "prod"}},
        "dev": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "dev")},
        },
        "prod": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "stack": {
            "BACKEND": "storage_mixins.Fallback",
            "OPTIONS": {"layers": ["dev", "archive"]},
        },
    }
    media = storages["media"]
    storages["prod"].save("photo.jpg", ContentFile(b"production"))
    assert read(media, "photo.jpg") == b"production"
    name = media.save("upload.jpg", ContentFile(b"dev"))
    assert (tmp_path / "dev" / name).read_bytes() == b"dev"
    assert not storages["prod"].exists(name)
    assert media.layers[1] is storages["archive"]
    assert storages["stack"].layers == (storages["dev"], storages["archive"])


def test_alias_cycle_is_reported(settings: Any) -> None:
    settings.STORAGES = {
        "x": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "a"}},
        "a": {"BACKEND": "storage_mixins.ReadOnly", "OPTIONS": {"storage": "b"}},
        "b": {"BACKEND": "storage_mixins.FallbackStorage", "OPTIONS": {"backends": ["a"]}},
    }
    with pytest.raises(ImproperlyConfigured, match="aliases form a cycle: a -> b -> a"):
        storages["x"]


def test_unknown_alias() -> None:
    with pytest.raises(ImproperlyConfigured, match="Could not find config for 'nope'"):
        ReadOnly("nope")
