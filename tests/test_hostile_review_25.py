"""A hostile review of issue 25's invalidation (versions, fences, listings of
layers a write cannot change, single-flight): a read racing a write through a
second wrapper that shares the cache, versions evicted, a write into a
directory whose production listing is cached, deletes hidden by tombstones.
Each asks for a stale answer once the write has returned."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from storage_mixins import Caching, Fallback, ReadOnly
from storage_mixins.backends.local import FileSystemLister
from tests.seeding import put_many

PHOTOS = [f"photos/{index:02d}.jpg" for index in range(5)]


@pytest.fixture(autouse=True)
def _tiny_caches(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "tiny": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"tiny-{uuid.uuid4().hex}",
            "OPTIONS": {"MAX_ENTRIES": 3, "CULL_FREQUENCY": 2},
        },
        "shared": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"shared-{uuid.uuid4().hex}",
        },
    }


class Hooked(FileSystemStorage):
    """A filesystem whose reads run :attr:`after` once, after answering: a write
    that lands between a reader's answer and its storing it."""

    after: Callable[[], None] | None = None

    def _then(self, value: Any) -> Any:
        after, Hooked.after = Hooked.after, None
        if after is not None:
            after()
        return value

    def exists(self, name: str) -> bool:
        return bool(self._then(super().exists(name)))

    def size(self, name: str) -> int:
        return int(self._then(super().size(name)))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        listed: tuple[list[str], list[str]] = self._then(super().listdir(path))
        return listed

    def get_modified_time(self, name: str) -> Any:
        return self._then(super().get_modified_time(name))


@pytest.fixture(autouse=True)
def _unhook() -> Any:
    yield
    Hooked.after = None


def _two_wrappers(tmp_path: Path, cache: str, **options: Any) -> tuple[Any, Any]:
    """Two Caching wrappers of one folder sharing ``cache``: two processes."""
    location = tmp_path / "media"
    return (
        Caching(Hooked(location=location), cache=cache, **options),
        Caching(Hooked(location=location), cache=cache, **options),
    )


@pytest.mark.parametrize("cache", ["shared", "tiny", "redis"])
@pytest.mark.parametrize("listings", [False, True])
@pytest.mark.parametrize(
    ("read", "before", "after"),
    [
        (lambda s: s.exists("a/b.txt"), False, True),
        (lambda s: s.listdir("a")[1], [], ["b.txt"]),
        (lambda s: s.listdir("")[1], [], []),
    ],
    ids=["exists", "listdir", "listdir-root"],
)
def test_a_read_racing_a_save_through_another_wrapper_stores_nothing_stale(
    tmp_path: Path,
    cache: str,
    listings: bool,
    read: Any,
    before: Any,
    after: Any,
    request: pytest.FixtureRequest,
) -> None:
    if cache == "redis":
        request.getfixturevalue("redis_cache")
    reader, writer = _two_wrappers(tmp_path, cache, listings=listings)
    (tmp_path / "media" / "a").mkdir(parents=True)
    Hooked.after = lambda: writer.save("a/b.txt", ContentFile(b"new"))
    assert read(reader) == before  # answered before the write, stored after it
    assert Hooked.after is None  # the write ran
    assert read(reader) == after
    assert read(writer) == after


@pytest.mark.parametrize("cache", ["shared", "tiny"])
@pytest.mark.parametrize("listings", [False, True])
def test_a_size_racing_an_overwrite_stores_nothing_stale(
    tmp_path: Path, cache: str, listings: bool
) -> None:
    reader, writer = _two_wrappers(tmp_path, cache, listings=listings)
    writer.save("a/b.txt", ContentFile(b"old"))

    def overwrite() -> None:
        writer.delete("a/b.txt")
        writer.save("a/b.txt", ContentFile(b"newer"))

    Hooked.after = overwrite
    assert reader.size("a/b.txt") == 3
    assert Hooked.after is None  # the write ran
    assert reader.size("a/b.txt") == 5


def test_a_delete_racing_a_listing_leaves_no_stale_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = tmp_path / "media"
    reader, writer = (
        Caching(FileSystemStorage(location=location), cache="shared", listings=True)
        for _ in range(2)
    )
    writer.save("a/b.txt", ContentFile(b"old"))
    writer.save("a/c.txt", ContentFile(b"old"))
    listed = FileSystemLister.list

    def list_then_delete(self: Any, *args: Any, **kwargs: Any) -> Any:
        listing = listed(self, *args, **kwargs)
        monkeypatch.setattr(FileSystemLister, "list", listed)
        writer.delete("a/b.txt")  # after the listing, before it is stored
        return listing

    monkeypatch.setattr(FileSystemLister, "list", list_then_delete)
    reader.exists("a/c.txt")
    assert FileSystemLister.list is listed  # the delete ran
    assert not reader.exists("a/b.txt")
    assert reader.listdir("a") == ([], ["c.txt"])


@pytest.fixture
def production(s3: Any) -> Any:
    put_many(s3, ((name, b"p" * 10) for name in PHOTOS), "production-media")
    return s3.storage(querystring_auth=False)


@pytest.mark.parametrize("production_first", [True, False])
def test_a_save_into_a_directory_production_listed_is_seen_at_once(
    production: Any, tmp_path: Path, production_first: bool
) -> None:
    local = FileSystemStorage(location=tmp_path / "local")
    layers = (ReadOnly(production), local) if production_first else (local, ReadOnly(production))
    stack = Caching(Fallback(*layers), cache="shared", listings=True)
    other = Caching(Fallback(*layers), cache="shared", listings=True)
    assert not stack.exists("photos/new.jpg")
    assert sorted(stack.listdir("photos")[1]) == sorted(p.split("/")[1] for p in PHOTOS)
    other.save("photos/new.jpg", ContentFile(b"n"))
    assert stack.exists("photos/new.jpg")
    assert stack.size("photos/new.jpg") == 1
    assert "new.jpg" in stack.listdir("photos")[1]
    assert stack.exists("photos/00.jpg")  # production's listing, kept


@pytest.mark.parametrize("production_first", [True, False])
def test_a_hidden_delete_through_another_wrapper_is_seen_at_once(
    production: Any, tmp_path: Path, production_first: bool
) -> None:
    local = FileSystemStorage(location=tmp_path / "local")
    layers = (ReadOnly(production), local) if production_first else (local, ReadOnly(production))

    def stack() -> Any:
        return Caching(Fallback(*layers, on_delete="hide"), cache="shared", listings=True)

    reader, writer = stack(), stack()
    assert reader.exists("photos/01.jpg")
    assert reader.size("photos/01.jpg") == 10
    assert "01.jpg" in reader.listdir("photos")[1]
    writer.delete("photos/01.jpg")
    assert not reader.exists("photos/01.jpg")
    assert "01.jpg" not in reader.listdir("photos")[1]
    with pytest.raises(FileNotFoundError):
        reader.size("photos/01.jpg")
    # Production still has the hidden copy: first, the save picks another name.
    saved = writer.save("photos/01.jpg", ContentFile(b"back"))
    assert (saved == "photos/01.jpg") is not production_first
    assert reader.exists(saved)
    assert reader.size(saved) == 4
    assert saved.split("/")[1] in reader.listdir("photos")[1]


@pytest.mark.parametrize("production_first", [True, False])
def test_invalidate_many_after_production_changed_around_the_stack(
    s3: Any, production: Any, tmp_path: Path, production_first: bool
) -> None:
    local = FileSystemStorage(location=tmp_path / "local")
    layers = (ReadOnly(production), local) if production_first else (local, ReadOnly(production))
    stack = Caching(Fallback(*layers), cache="shared", listings=True)
    other = Caching(Fallback(*layers), cache="shared", listings=True)  # another process
    assert not stack.exists("photos/new.jpg")
    assert stack.exists("photos/00.jpg")
    put_many(s3, [("photos/new.jpg", b"n" * 3)], "production-media")
    production.delete("photos/00.jpg")  # around the stack: production's listing is stale
    assert other.invalidate_many(["photos/new.jpg", "photos/00.jpg"]) == 0
    assert stack.exists("photos/new.jpg")
    assert stack.size("photos/new.jpg") == 3
    assert not stack.exists("photos/00.jpg")
    assert sorted(stack.listdir("photos")[1]) == sorted(
        [p.split("/")[1] for p in PHOTOS[1:]] + ["new.jpg"]
    )


def test_waiters_that_never_get_the_listing_answer_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage_mixins.services import single_flight
    from storage_mixins.services.metadata_cache import MetadataCache

    # Another process holds every claim and never stores its listing.
    monkeypatch.setattr(MetadataCache, "claim", lambda self, key, seconds: None)
    monkeypatch.setattr(single_flight, "WAIT_SECONDS", 0.02)
    location = tmp_path / "media"
    reader, writer = (
        Caching(FileSystemStorage(location=location), cache="shared", listings=True)
        for _ in range(2)
    )
    writer.save("a/b.txt", ContentFile(b"old"))
    assert reader.exists("a/b.txt")
    assert not reader.exists("a/c.txt")
    writer.save("a/c.txt", ContentFile(b"c"))
    writer.delete("a/b.txt")
    assert reader.exists("a/c.txt")
    assert not reader.exists("a/b.txt")
    assert reader.listdir("a") == ([], ["c.txt"])
