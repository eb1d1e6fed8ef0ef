"""Caching never answers from something older than it may: issue 21's staleness cases.

* an answer taken from a listing lives no longer than the listing;
* a local copy of a file is taken for the file only if no write came since it
  was made, whichever process made the write;
* the writes a wrapped storage makes from its own methods (staticfiles'
  ``post_process``, ``save_manifest``…) invalidate like the others;
* the namespace follows the storage it names (settings, attributes, the
  options of the wrappers inside), and a local disk's facts stay on the
  machine that holds the disk;
* the commands that change what a stack holds invalidate its caches.
"""

from __future__ import annotations

import datetime
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages
from django.core.management import call_command

from storage_mixins import Caching, Fallback, Logging, ReadOnly
from storage_mixins.services.metadata_cache import FENCE_SECONDS
from tests.conformance import read


class Clock:
    """``time.time`` under the test's control (``LocMemCache`` expires by it)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    return clock


# -- 5. an answer taken from a listing lives no longer than the listing ---------


def test_a_miss_from_a_listing_lives_no_longer_than_the_listing(clock: Clock) -> None:
    remote = InMemoryStorage()
    remote.save("photos/a.jpg", ContentFile(b"a"))
    cached = Caching(remote, listings=True, timeout=600, missing_timeout=2)
    assert cached.exists("photos/a.jpg")  # lists photos/ until t=2
    clock.advance(1.5)
    assert not cached.exists("photos/new.jpg")  # from the listing, with 0.5 s left
    remote.save("photos/new.jpg", ContentFile(b"new"))  # production adds it
    clock.advance(1)
    assert cached.exists("photos/new.jpg")  # was still False, until t=3.5


def test_facts_from_a_listing_live_no_longer_than_the_listing(clock: Clock, tmp_path: Path) -> None:
    remote = FileSystemStorage(location=tmp_path / "remote")
    remote.save("photos/a.jpg", ContentFile(b"a"))
    remote.save("photos/b.jpg", ContentFile(b"b"))
    cached = Caching(remote, listings=True, timeout=2)
    assert cached.exists("photos/a.jpg")  # lists photos/ until t=2
    clock.advance(1.5)
    assert cached.size("photos/a.jpg") == 1
    assert cached.exists("photos/b.jpg")
    modified = cached.get_modified_time("photos/a.jpg")
    # Changed around the wrapper.
    Path(remote.path("photos/a.jpg")).write_bytes(b"longer")
    Path(remote.path("photos/b.jpg")).unlink()
    clock.advance(1)
    assert cached.size("photos/a.jpg") == 6
    assert not cached.exists("photos/b.jpg")
    assert cached.get_modified_time("photos/a.jpg") != modified


def test_answers_from_a_listing_of_a_stack_layer_live_no_longer_than_it(
    clock: Clock, tmp_path: Path
) -> None:
    production = InMemoryStorage(base_url="https://production.example/")
    local = FileSystemStorage(location=tmp_path / "local", base_url="/local/")
    local.save("photos/a.jpg", ContentFile(b"local a"))
    cached = Caching(Fallback(ReadOnly(production), local), listings=True, missing_timeout=2)
    assert cached.url("photos/a.jpg") == "/local/photos/a.jpg"  # production listed: absent
    clock.advance(1.5)
    assert not cached.exists("photos/b.jpg")
    production.save("photos/b.jpg", ContentFile(b"production b"))
    clock.advance(1)
    assert cached.exists("photos/b.jpg")


def test_an_answer_from_an_expiring_listing_is_not_kept(clock: Clock) -> None:
    remote = InMemoryStorage()
    remote.save("photos/a.jpg", ContentFile(b"a"))
    cached = Caching(remote, listings=True, missing_timeout=2)
    assert cached.exists("photos/a.jpg")
    clock.advance(1.9999)
    assert not cached.exists("photos/new.jpg")
    remote.save("photos/new.jpg", ContentFile(b"new"))
    clock.advance(0.001)
    assert cached.exists("photos/new.jpg")


# -- 6. a local copy is the file only if no write came since it was made --------


class _SameSecond(InMemoryStorage):
    """A remote storage whose files all have one modification time, as two
    writes within one second have on S3 (whole seconds)."""

    def get_modified_time(self, name: str) -> datetime.datetime:
        self.size(name)  # raises for a missing file
        return datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


def test_a_copy_in_another_process_is_not_taken_for_a_rewritten_file(tmp_path: Path) -> None:
    remote = _SameSecond()
    remote.save("a.txt", ContentFile(b"old!"))
    # Two processes: one cache, each its own contents folder.
    first = Caching(remote, contents=FileSystemStorage(location=tmp_path / "first"))
    second = Caching(remote, contents=FileSystemStorage(location=tmp_path / "second"))
    assert read(first, "a.txt") == b"old!"
    assert read(second, "a.txt") == b"old!"
    first.delete("a.txt")
    first.save("a.txt", ContentFile(b"new!"))  # same size, same second
    assert read(second, "a.txt") == b"new!"
    assert read(first, "a.txt") == b"new!"


def test_a_copy_made_after_another_process_fetched_is_not_taken_for_a_rewrite(
    tmp_path: Path,
) -> None:
    remote = _SameSecond()
    remote.save("a.txt", ContentFile(b"old!"))
    first = Caching(remote, contents=FileSystemStorage(location=tmp_path / "first"))
    second = Caching(remote, contents=FileSystemStorage(location=tmp_path / "second"))
    assert read(second, "a.txt") == b"old!"
    first.delete("a.txt")
    first.save("a.txt", ContentFile(b"new!"))
    assert read(first, "a.txt") == b"new!"  # the shared entry now names the new file
    assert read(second, "a.txt") == b"new!"


# -- 7. writes a wrapped storage makes from its own methods ---------------------


def _static_files(tmp_path: Path) -> tuple[ManifestStaticFilesStorage, dict[str, Any]]:
    source = FileSystemStorage(location=tmp_path / "source")
    source.save("css/site.css", ContentFile(b"body { color: red }"))
    return (
        ManifestStaticFilesStorage(location=tmp_path / "static", base_url="/static/"),
        {"css/site.css": (source, "css/site.css")},
    )


def _hashed(static: ManifestStaticFilesStorage, paths: dict[str, Any], name: str) -> str:
    source, path = paths[name]
    with source.open(path) as original:
        hashed: str = static.hashed_name(name, original)
    return hashed


INSIDE = {
    "backend": lambda static: static,
    "stack": lambda static: Fallback(static, ReadOnly(InMemoryStorage())),
    "logged": lambda static: Logging(static),
    "cached": lambda static: Caching(static, key_prefix="inner"),
}


@pytest.mark.parametrize("inside", INSIDE.values(), ids=INSIDE.keys())
def test_post_process_invalidates_what_it_writes(tmp_path: Path, inside: Any) -> None:
    static, paths = _static_files(tmp_path)
    hashed = _hashed(static, paths, "css/site.css")
    cached = Caching(inside(static))
    cached.save("css/site.css", ContentFile(b"body { color: red }"))  # collectstatic's copy
    assert not cached.exists(hashed)
    assert not cached.exists("staticfiles.json")
    assert "site.css" in cached.listdir("css")[1]
    processed = cached.post_process(paths)
    for name, hashed_name, _processed in processed:
        assert (name, hashed_name) == ("css/site.css", hashed)
        assert cached.exists(hashed)  # as it is yielded
    assert cached.exists(hashed)
    assert cached.exists("staticfiles.json")
    assert hashed.rpartition("/")[2] in cached.listdir("css")[1]


def test_post_processes_iterated_in_turns_each_invalidate(tmp_path: Path) -> None:
    first_static, first_paths = _static_files(tmp_path / "first")
    second_static, second_paths = _static_files(tmp_path / "second")
    second_static.manifest_name = "second.json"
    first, second = Caching(first_static), Caching(second_static)
    assert not first.exists("staticfiles.json") and not second.exists("second.json")
    first_run, second_run = first.post_process(first_paths), second.post_process(second_paths)
    next(first_run)
    next(second_run)
    assert list(first_run) == []  # the first ends (and saves its manifest) first
    assert list(second_run) == []
    assert first.exists("staticfiles.json") and second.exists("second.json")


def test_save_manifest_invalidates_the_manifest(tmp_path: Path) -> None:
    static, _paths = _static_files(tmp_path)
    cached = Caching(static)
    assert not cached.exists("staticfiles.json")
    cached.save_manifest()
    assert cached.exists("staticfiles.json")
    assert cached.size("staticfiles.json") == static.size("staticfiles.json")


def test_post_process_that_raises_still_invalidates(tmp_path: Path) -> None:
    static, paths = _static_files(tmp_path)
    hashed = _hashed(static, paths, "css/site.css")
    cached = Caching(static)
    assert not cached.exists(hashed)
    processed = cached.post_process(paths)
    next(processed)
    with pytest.raises(RuntimeError):
        processed.throw(RuntimeError("collectstatic stopped"))
    assert cached.exists(hashed)


class _FullDisk(ManifestStaticFilesStorage):
    """Writes each hashed file, then fails, as a disk that fills up part-way."""

    def _save(self, name: str, content: Any) -> str:
        saved: str = super()._save(name, content)
        raise OSError(28, "No space left on device", saved)


def test_a_write_that_raises_in_post_process_still_invalidates(tmp_path: Path) -> None:
    _static, paths = _static_files(tmp_path)
    static = _FullDisk(location=tmp_path / "static", base_url="/static/")
    hashed = _hashed(static, paths, "css/site.css")
    cached = Caching(static)
    assert not cached.exists(hashed)
    with pytest.raises(OSError, match="No space left"):
        list(cached.post_process(paths))
    assert cached.exists(hashed)


class _OverwriteStorage(InMemoryStorage):
    """The recipe: a name is made available by deleting the file that has it."""

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if self.exists(name):
            self.delete(name)
        return name


def test_a_name_chooser_that_deletes_is_seen_through_its_save() -> None:
    # Deliberate: get_available_name is the storage's own, not a write (see
    # docs/caching.rst). Django calls it from save(), whose invalidation
    # covers the name it deleted.
    remote = _OverwriteStorage()
    remote.save("a.txt", ContentFile(b"a"))
    cached = Caching(remote)
    assert cached.size("a.txt") == 1
    assert cached.save("a.txt", ContentFile(b"longer")) == "a.txt"
    assert cached.size("a.txt") == 6


def test_deleting_a_directory_forgets_its_listing(tmp_path: Path) -> None:
    local = FileSystemStorage(location=tmp_path / "local")
    local.save("empty/a.txt", ContentFile(b"a"))
    local.delete("empty/a.txt")
    cached = Caching(local)
    assert cached.listdir("empty") == ([], [])
    cached.delete("empty")  # FileSystemStorage removes an empty directory
    with pytest.raises(FileNotFoundError):
        cached.listdir("empty")


# -- 8. the namespace follows the storage it names ------------------------------


def test_the_namespace_follows_media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "old")
    cached = Caching(FileSystemStorage())
    assert not cached.exists("avatar.jpg")
    new = tmp_path / "new"
    new.mkdir()
    (new / "avatar.jpg").write_bytes(b"jpeg")
    settings.MEDIA_ROOT = str(new)
    assert cached.location == str(new)
    assert cached.exists("avatar.jpg")


def test_the_namespace_follows_a_location_set_through_the_wrapper(tmp_path: Path) -> None:
    cached = Caching(FileSystemStorage(location=tmp_path / "old"))
    assert not cached.exists("avatar.jpg")
    new = tmp_path / "new"
    new.mkdir()
    (new / "avatar.jpg").write_bytes(b"jpeg")
    cached.location = str(new)
    assert cached.exists("avatar.jpg")


def test_stacks_that_differ_in_options_do_not_share_answers(tmp_path: Path, clock: Clock) -> None:
    production = InMemoryStorage()
    production.save("a.txt", ContentFile(b"production"))
    local = FileSystemStorage(location=tmp_path / "local")
    hiding = Caching(Fallback(local, ReadOnly(production), on_delete="hide"))
    ignoring = Caching(Fallback(local, ReadOnly(production), on_delete="ignore"))
    hiding.delete("a.txt")
    clock.advance(FENCE_SECONDS + 1)  # answers are kept again
    assert not hiding.exists("a.txt")
    assert ignoring.exists("a.txt")  # it does not read tombstones


# -- 9. a local disk's facts stay on its machine --------------------------------


def test_two_machines_with_one_media_path_do_not_share_facts(
    redis_cache: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage_mixins.services import namespaces as labels

    # One path (/app/media in Docker), two machines, one Redis.
    media = tmp_path / "media"
    media.mkdir()
    monkeypatch.setattr(labels, "machine_identity", lambda: "machine-a")
    on_a = Caching(FileSystemStorage(location=media), cache=redis_cache)
    assert not on_a.exists("avatar.jpg")
    (media / "avatar.jpg").write_bytes(b"jpeg")  # as if on machine b's disk
    monkeypatch.setattr(labels, "machine_identity", lambda: "machine-b")
    on_b = Caching(FileSystemStorage(location=media), cache=redis_cache)
    assert on_b.exists("avatar.jpg")


def test_processes_on_one_machine_share_a_local_disk_s_facts(tmp_path: Path) -> None:
    first = Caching(FileSystemStorage(location=tmp_path / "media"))
    second = Caching(FileSystemStorage(location=tmp_path / "media"))
    assert not second.exists("a.txt")
    first.save("a.txt", ContentFile(b"a"))
    assert second.exists("a.txt")


def test_a_local_disk_is_named_alike_before_and_after_it_is_made(tmp_path: Path) -> None:
    # Processes started before and after MEDIA_ROOT is made must share facts.
    before = Caching(FileSystemStorage(location=tmp_path / "media"))
    named_before = before._self_metadata.namespace
    (tmp_path / "media").mkdir()
    after = Caching(FileSystemStorage(location=tmp_path / "media"))
    assert after._self_metadata.namespace == named_before


def test_a_remote_storage_s_facts_are_shared_between_machines(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage_mixins.services import namespaces as labels

    monkeypatch.setattr(labels, "machine_identity", lambda: "machine-a")
    on_a = Caching(s3.storage())._self_metadata.namespace
    monkeypatch.setattr(labels, "machine_identity", lambda: "machine-b")
    assert Caching(s3.storage())._self_metadata.namespace == on_a


# -- 10. commands that change what a stack holds invalidate its caches ----------


@pytest.fixture
def cached_stacks(s3: Any, settings: Any, use_storages: Any, tmp_path: Path) -> dict[str, Any]:
    """Two aliases over the same layers, each behind its own Caching."""
    s3.put("photos/cat.jpg", b"production cat")
    use_storages(
        {
            **settings.STORAGES,
            "local": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "local"), "base_url": "/local/"},
            },
            "production": s3.settings(),
            "stack": {
                "BACKEND": "storage_mixins.Fallback",
                "OPTIONS": {"layers": ["local", "production"], "on_delete": "hide"},
            },
            "default": {"BACKEND": "storage_mixins.Caching", "OPTIONS": {"storage": "stack"}},
            "media": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": "stack", "key_prefix": "media"},
            },
        }
    )
    return {"default": storages["default"], "media": storages["media"]}


def test_clearing_a_tombstone_is_seen_through_every_cache(cached_stacks: dict[str, Any]) -> None:
    default, media = cached_stacks["default"], cached_stacks["media"]
    default.delete("photos/cat.jpg")
    assert not default.exists("photos/cat.jpg")
    assert not media.exists("photos/cat.jpg")
    call_command(
        "storage_tombstones", "--storage", "default", "--clear", "photos/cat.jpg",
        stdout=StringIO(),
    )  # fmt: skip
    assert default.exists("photos/cat.jpg")
    assert media.exists("photos/cat.jpg")


def test_a_pull_is_seen_through_every_cache(cached_stacks: dict[str, Any], tmp_path: Path) -> None:
    default, media = cached_stacks["default"], cached_stacks["media"]
    assert not default.url("photos/cat.jpg").startswith("/local/")  # production's
    assert not media.url("photos/cat.jpg").startswith("/local/")
    call_command("storage_pull", "photos", "--storage", "default", stdout=StringIO())
    assert default.url("photos/cat.jpg") == "/local/photos/cat.jpg"
    assert media.url("photos/cat.jpg") == "/local/photos/cat.jpg"
