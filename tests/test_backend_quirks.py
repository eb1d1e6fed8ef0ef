"""Backends that open lazily or list full names (issue 13 items 10 and 11), with
a stand-in for django-storages' AzureStorage; tests/test_backends.py runs the
real one on Azurite."""

from __future__ import annotations

import io
import sys
import types
from typing import Any

import pytest
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage

from storage_mixins import Caching, Fallback, Logging, ReadOnly
from storage_mixins.backends.quirks import base_names, lists_full_names, opens_lazily


class ResourceNotFound(Exception):
    """What the stand-in raises at the first read of a missing blob."""


class _LazyFile(File):
    def __init__(self, storage: Any, name: str) -> None:
        super().__init__(None, name)
        self._storage = storage

    @property
    def file(self) -> Any:  # downloaded at the first read, as AzureStorageFile does
        if self._file is None:
            self._file = io.BytesIO(self._storage.download(self.name))
        return self._file

    @file.setter
    def file(self, value: Any) -> None:
        self._file = value


class LazyBlobs(Storage):
    """Like django-storages' AzureStorage: blobs by full name under a
    ``location`` prefix; open() makes no request, listdir() gives full names."""

    def __init__(self, location: str = "") -> None:
        self.location = location
        self.blobs: dict[str, bytes] = {}
        self.opened: list[str] = []

    def _key(self, name: str) -> str:
        return f"{self.location}/{name}" if self.location else name

    def _save(self, name: str, content: Any) -> str:
        self.blobs[self._key(name)] = content.read()
        return name

    def _open(self, name: str, mode: str = "rb") -> Any:
        self.opened.append(name)
        return _LazyFile(self, name)

    def download(self, name: str) -> bytes:
        try:
            return self.blobs[self._key(name)]
        except KeyError:
            raise ResourceNotFound(name) from None

    def exists(self, name: str) -> bool:
        return self._key(name) in self.blobs

    def delete(self, name: str) -> None:
        self.blobs.pop(self._key(name), None)

    def size(self, name: str) -> int:
        return len(self.download(name))

    def url(self, name: str | None) -> str:
        return f"https://blobs.example/{self._key(name or '')}"

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = f"{self._key(path)}/" if path else ""
        return [], [key for key in self.blobs if key.startswith(prefix)]


@pytest.fixture(autouse=True)
def as_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make LazyBlobs the AzureStorage of a stand-in storages.backends.azure_storage."""
    module = types.ModuleType("storages.backends.azure_storage")
    module.AzureStorage = LazyBlobs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "storages.backends.azure_storage", module)


@pytest.fixture(params=["", "media"], ids=["no-location", "location"])
def blobs(request: pytest.FixtureRequest) -> LazyBlobs:
    storage = LazyBlobs(location=request.param)
    storage.save("photos/2024/a.jpg", ContentFile(b"a"))
    storage.save("photos/b.jpg", ContentFile(b"b"))
    storage.save("top.txt", ContentFile(b"t"))
    return storage


def read(storage: Any, name: str) -> bytes:
    with storage.open(name) as handle:
        return handle.read()


def test_the_quirks_are_told_by_type_not_through_proxies(blobs: LazyBlobs) -> None:
    assert opens_lazily(blobs) and lists_full_names(blobs)
    assert not opens_lazily(ReadOnly(blobs))  # a wrapper is not the backend
    assert not opens_lazily(Fallback(blobs))  # it routes its own layers
    assert not opens_lazily(InMemoryStorage())


@pytest.mark.parametrize(
    "order",
    [
        lambda blobs, local: Fallback(ReadOnly(blobs), local),
        lambda blobs, local: Fallback(local, ReadOnly(blobs)),
        lambda blobs, local: Fallback(Caching(ReadOnly(blobs)), local),
        lambda blobs, local: Fallback(Logging(ReadOnly(blobs)), local),
        lambda blobs, local: Fallback(blobs, local, writable=0),
    ],
    ids=["blobs-first", "local-first", "caching-blobs-first", "logging-blobs-first", "blobs-write"],
)
def test_a_lazy_layer_never_answers_for_a_file_it_lacks(
    blobs: LazyBlobs, tmp_path: Any, order: Any
) -> None:
    local = FileSystemStorage(location=tmp_path)
    local.save("local-only.txt", ContentFile(b"local"))
    stack = order(blobs, local)
    assert read(stack, "local-only.txt") == b"local"
    assert read(stack, "photos/b.jpg") == b"b"
    with pytest.raises(FileNotFoundError):  # at open(), and not a ResourceNotFound at read
        stack.open("nowhere.txt")
    with pytest.raises(FileNotFoundError):
        stack._open("nowhere.txt")
    assert "nowhere.txt" not in blobs.opened and "local-only.txt" not in blobs.opened


def test_listdir_gives_base_names_and_directories_of_a_full_name_lister(
    blobs: LazyBlobs, tmp_path: Any
) -> None:
    local = FileSystemStorage(location=tmp_path)
    local.save("photos/c.jpg", ContentFile(b"c"))
    stack = Fallback(local, ReadOnly(blobs))
    directories, files = stack.listdir("")
    assert (sorted(directories), sorted(files)) == (["photos"], ["top.txt"])
    directories, files = stack.listdir("photos")
    assert (directories, sorted(files)) == (["2024"], ["b.jpg", "c.jpg"])
    assert stack.listdir("photos/2024") == ([], ["a.jpg"])
    assert ReadOnly(blobs).listdir("photos") == blobs.listdir("photos")  # transparent


def test_base_names_strip_the_location_and_leave_other_names_out() -> None:
    backend = types.SimpleNamespace(location="media/")
    names = ["media/photos/a.jpg", "media/photos/2024/b.jpg", "media/photosX/c.jpg", "other/d"]
    assert base_names(backend, "photos", names) == (["2024"], ["a.jpg"])
    assert base_names(backend, "", names) == (["photos", "photosX"], [])
    assert base_names(types.SimpleNamespace(location=""), "", ["a", "b/c"]) == (["b"], ["a"])
