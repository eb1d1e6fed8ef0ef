"""django-fallback-storage 1.1.1 compatibility.

Each behaviour the old package documents in its README, and each case of its
own test suite (``tests/test_primary_storage_methods.py``), ported to
``FallbackStorage`` configured the old way: ``FALLBACK_STORAGES`` with dotted
paths to storage classes, instantiated without arguments. As in the old suite,
the first backend is in-memory and the second is the filesystem at MEDIA_ROOT.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.files.base import ContentFile, File
from django.core.files.storage import InMemoryStorage

from storage_mixins import FallbackStorage
from tests.conformance import read


@pytest.fixture
def backend(settings: Any) -> FallbackStorage:
    settings.MEDIA_URL = "/media/"
    settings.FALLBACK_STORAGES = (
        "tests.test_legacy_compat.SharedMemoryStorage",
        "django.core.files.storage.FileSystemStorage",
    )
    return FallbackStorage()


@pytest.fixture
def inmemorystorage(backend: FallbackStorage) -> Any:
    return backend.layers[0]


@pytest.fixture
def filesystemstorage(backend: FallbackStorage) -> Any:
    # The old package wrote to it as well; here it is read-only through the
    # stack, so tests seed it directly.
    return backend.layers[1].__wrapped__


class SharedMemoryStorage(InMemoryStorage):
    """The old suite's in-memory backend, with its example.com base url."""

    def __init__(self) -> None:
        super().__init__(base_url="http://www.example.com/media/")


def save_text(storage: Any, name: str, text: str) -> str:
    return storage.save(name, File(StringIO(text), name=name))


def text(storage: Any, name: str) -> str:
    data = read(storage, name)
    return data.decode() if isinstance(data, bytes) else data


def test_fallback_for_open_operations(
    backend: Any, inmemorystorage: Any, filesystemstorage: Any
) -> None:
    save_text(filesystemstorage, "foo.txt", "test-foo")
    save_text(inmemorystorage, "bar.txt", "test-bar")
    assert "test-foo" in text(backend, "foo.txt")
    assert "test-bar" in text(backend, "bar.txt")


def test_fallback_for_save_operations(
    backend: Any, inmemorystorage: Any, filesystemstorage: Any
) -> None:
    save_text(backend, "foo.txt", "test")
    assert inmemorystorage.exists("foo.txt")
    assert not filesystemstorage.exists("foo.txt")
    assert "test" in text(inmemorystorage, "foo.txt")


def test_fallback_for_exists_operations(
    backend: Any, inmemorystorage: Any, filesystemstorage: Any
) -> None:
    save_text(inmemorystorage, "bar.txt", "test-bar")
    save_text(filesystemstorage, "foo.txt", "test-foo")
    assert backend.exists("foo.txt")
    assert backend.exists("bar.txt")
    assert not backend.exists("baz.txt")


def test_fallback_for_deletion(backend: Any, inmemorystorage: Any, filesystemstorage: Any) -> None:
    save_text(inmemorystorage, "foo.txt", "test-foo-b")
    save_text(filesystemstorage, "foo.txt", "test-foo-a")
    backend.delete("foo.txt")
    # Deleted from the first backend only; still served from the second.
    assert not inmemorystorage.exists("foo.txt")
    assert filesystemstorage.exists("foo.txt")
    assert "test-foo-a" in text(backend, "foo.txt")


def test_fallback_for_listdir(backend: Any, inmemorystorage: Any, filesystemstorage: Any) -> None:
    save_text(inmemorystorage, "bar.txt", "test-bar")
    save_text(filesystemstorage, "foo.txt", "test-foo")
    files = backend.listdir("")[1]
    assert "foo.txt" in files
    assert "bar.txt" in files


def test_fallback_for_size(backend: Any, inmemorystorage: Any, filesystemstorage: Any) -> None:
    save_text(inmemorystorage, "bar.txt", "test-0")
    save_text(filesystemstorage, "foo.txt", "test-01234")
    # This one must not be consulted: the first backend has bar.txt.
    save_text(filesystemstorage, "bar.txt", "test-0123456789")
    assert backend.size("foo.txt") == filesystemstorage.size("foo.txt")
    assert backend.size("bar.txt") == inmemorystorage.size("bar.txt") == 6


def test_fallback_for_url(backend: Any, inmemorystorage: Any, filesystemstorage: Any) -> None:
    save_text(inmemorystorage, "bar.txt", "test-bar")
    save_text(filesystemstorage, "foo.txt", "test-foo")
    assert backend.url("bar.txt") == "http://www.example.com/media/bar.txt"
    assert backend.url("foo.txt") == "/media/foo.txt"


def test_fallback_url_for_missing_file(backend: Any) -> None:
    # Missing everywhere: the last backend computes the url.
    assert backend.url("foo.txt") == "/media/foo.txt"


def test_available_name_is_unique_across_backends(backend: Any, filesystemstorage: Any) -> None:
    save_text(filesystemstorage, "photo.jpg", "production")
    name = backend.get_available_name("photo.jpg")
    assert name != "photo.jpg"
    assert not backend.exists(name)
    assert backend.save("photo.jpg", ContentFile(b"dev")) != "photo.jpg"
    assert text(backend, "photo.jpg") == "production"


@pytest.mark.parametrize("method", ["get_accessed_time", "get_created_time", "get_modified_time"])
def test_other_documented_methods_answer_from_the_holder(
    backend: Any, filesystemstorage: Any, method: str
) -> None:
    save_text(filesystemstorage, "foo.txt", "x")
    assert getattr(backend, method)("foo.txt") == getattr(filesystemstorage, method)("foo.txt")


def test_path_of_a_read_only_backend_s_file_is_refused(
    backend: Any, inmemorystorage: Any, filesystemstorage: Any
) -> None:
    # Intentional difference: the old package returned the second backend's
    # path, through which callers could write. First-backend paths still work.
    save_text(filesystemstorage, "foo.txt", "x")
    with pytest.raises(NotImplementedError, match="without local paths"):
        backend.path("foo.txt")


def test_get_valid_name(backend: Any) -> None:
    assert backend.get_valid_name("my file!.txt") == "my_file.txt"
