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
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import Caching, Fallback, ReadOnly
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
