"""Caching: what it caches, when it forgets, and what it costs."""

from __future__ import annotations

import datetime
import itertools
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import memcache_key_warnings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, storages

from storage_mixins import Caching, Fallback, ReadOnly, ReadOnlyError
from storage_mixins.backends.signed_urls import seconds_left
from storage_mixins.services.cache_keys import cache_key as _key
from tests.conformance import read
from tests.spies import RecordingStorage

CACHED_READS = {
    "exists": lambda s: s.exists("photos/a.jpg"),
    "size": lambda s: s.size("photos/a.jpg"),
    "get_modified_time": lambda s: s.get_modified_time("photos/a.jpg"),
    "get_created_time": lambda s: s.get_created_time("photos/a.jpg"),
    "get_accessed_time": lambda s: s.get_accessed_time("photos/a.jpg"),
    "listdir": lambda s: s.listdir("photos"),
    "url": lambda s: s.url("photos/a.jpg"),
}


@pytest.fixture(params=["locmem", "redis"])
def cache_alias(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        return request.getfixturevalue("redis_cache")
    return "default"


@pytest.fixture
def recording() -> RecordingStorage:
    storage = RecordingStorage(base_url="https://production.example/")
    storage.put("photos/a.jpg", b"production a")
    return storage


# -- what is cached ------------------------------------------------------------


@pytest.mark.parametrize("call", CACHED_READS.values(), ids=CACHED_READS.keys())
def test_reads_are_answered_once(recording: Any, cache_alias: str, call: Any) -> None:
    cached = Caching(recording, cache=cache_alias)
    first = call(cached)
    assert [call(cached) for _ in range(3)] == [first] * 3
    assert len(recording.calls) == 1
    assert first == call(recording)


def test_a_miss_is_cached_too(recording: Any, cache_alias: str) -> None:
    cached = Caching(recording, cache=cache_alias)
    assert not cached.exists("nowhere.jpg")
    assert not cached.exists("nowhere.jpg")
    assert recording.calls == [("exists", "nowhere.jpg")]


def test_missing_timeout(recording: Any) -> None:
    cached = Caching(recording, missing_timeout=0)  # misses are not kept, hits are
    for _ in range(2):
        assert not cached.exists("nowhere.jpg")
        assert cached.exists("photos/a.jpg")
    assert recording.calls == [
        ("exists", "nowhere.jpg"),
        ("exists", "photos/a.jpg"),
        ("exists", "nowhere.jpg"),
    ]


def test_timeout_zero_caches_nothing(recording: Any) -> None:
    cached = Caching(recording, timeout=0)
    cached.size("photos/a.jpg")
    cached.size("photos/a.jpg")
    assert len(recording.calls) == 2


def test_errors_are_not_cached(recording: Any) -> None:
    cached = Caching(recording)
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            cached.size("nowhere.jpg")
    assert recording.calls == [("size", "nowhere.jpg")] * 2


def test_spellings_of_one_name_share_entries(recording: Any) -> None:
    cached = Caching(recording)
    cached.exists("photos/a.jpg")
    assert cached.exists("photos//a.jpg")
    assert cached.exists("./photos/a.jpg")
    assert len(recording.calls) == 1


# -- coherence -----------------------------------------------------------------


WRITES = {
    "save": lambda s, name: s.save(name, ContentFile(b"new bytes!")),
    "_save": lambda s, name: s._save(name, ContentFile(b"new bytes!")),
    "open-wb": lambda s, name: _write(s, name, b"new bytes!"),
}


def _write(storage: Any, name: str, data: bytes) -> str:
    with storage.open(name, "wb") as handle:
        handle.write(data)
    return name


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_writes_invalidate_before_returning(cache_alias: str, tmp_path: Path, write: Any) -> None:
    fs = FileSystemStorage(location=tmp_path)
    fs.save("photos/placeholder", ContentFile(b""))
    cached = Caching(fs, cache=cache_alias)
    # Fill the cache with what is true before the write.
    assert not cached.exists("photos/2024/new.jpg")
    assert cached.listdir("photos") == ([], ["placeholder"])
    assert cached.listdir("") == (["photos"], [])
    (tmp_path / "photos" / "2024").mkdir()
    name = write(cached, "photos/2024/new.jpg")
    assert cached.exists(name)
    assert cached.size(name) == 10
    assert cached.listdir("photos") == (["2024"], ["placeholder"])
    assert cached.listdir("photos/2024") == ([], ["new.jpg"])


def test_overwrite_and_delete_invalidate(cache_alias: str, tmp_path: Path) -> None:
    fs = FileSystemStorage(location=tmp_path)
    cached = Caching(fs, cache=cache_alias)
    name = cached.save("a.txt", ContentFile(b"1"))
    assert cached.size(name) == 1
    modified = cached.get_modified_time(name)
    _write(cached, name, b"12345")
    assert cached.size(name) == 5
    assert cached.get_modified_time(name) >= modified
    cached.delete(name)
    assert not cached.exists(name)
    with pytest.raises(FileNotFoundError):
        cached.size(name)


def test_write_mode_file_invalidates_when_closed(tmp_path: Path) -> None:
    fs = FileSystemStorage(location=tmp_path)
    cached = Caching(fs)
    fs.save("a.txt", ContentFile(b"1"))
    handle = cached.open("a.txt", "wb")
    assert cached.size("a.txt") == 0  # truncated at open, and cached now
    handle.write(b"123")
    handle.close()
    assert cached.size("a.txt") == 3


def test_writes_through_a_fallback_above_invalidate(recording: Any, tmp_path: Path) -> None:
    local = Caching(FileSystemStorage(location=tmp_path))
    stack = Fallback(local, ReadOnly(recording))
    assert not stack.exists("new.jpg")
    name = stack.save("new.jpg", ContentFile(b"x"))
    assert stack.exists(name)
    assert stack.which(name) is local


def test_independent_wrappers_over_one_cache_see_each_other_s_writes(
    cache_alias: str, tmp_path: Path
) -> None:
    # As two processes would: nothing shared but the cache and the files.
    first = Caching(FileSystemStorage(location=tmp_path), cache=cache_alias)
    second = Caching(FileSystemStorage(location=tmp_path), cache=cache_alias)
    assert not first.exists("a.txt")
    assert first.listdir("") == ([], [])
    second.save("a.txt", ContentFile(b"abc"))
    assert first.exists("a.txt")
    assert first.listdir("") == ([], ["a.txt"])
    assert first.size("a.txt") == 3
    second.delete("a.txt")
    assert not first.exists("a.txt")


def test_invalidation_reaches_another_process(redis_cache: str, tmp_path: Path) -> None:
    from django.conf import settings

    # Same settings as this process: the storage's identity includes its base url.
    cached = Caching(FileSystemStorage(location=tmp_path), cache=redis_cache)
    assert not cached.exists("from-another-process.txt")
    script = textwrap.dedent(
        f"""
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True, MEDIA_URL={settings.MEDIA_URL!r}, CACHES={{"redis": {{
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": {settings.CACHES["redis"]["LOCATION"]!r}}}}})
        django.setup()
        from django.core.files.base import ContentFile
        from django.core.files.storage import FileSystemStorage
        from storage_mixins import Caching
        cached = Caching(FileSystemStorage(location={str(tmp_path)!r}), cache="redis")
        print(cached.save("from-another-process.txt", ContentFile(b"hello")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from-another-process.txt"
    assert cached.exists("from-another-process.txt")
    assert cached.size("from-another-process.txt") == 5


def test_a_stale_value_computed_during_a_write_is_never_served(recording: Any) -> None:
    cached = Caching(recording)
    metadata = cached._self_metadata
    # A reader misses, and computes its answer from the storage…
    hit, seen = metadata.get("exists", "photos/a.jpg")
    assert not hit
    reservation = metadata.reserve("exists", "photos/a.jpg", seen)
    stale = recording.exists("photos/a.jpg")
    # …a write lands and returns…
    cached.delete("photos/a.jpg")
    # …and only then does the reader store what it computed: the fence holds.
    metadata.add(reservation, stale)
    assert cached.exists("photos/a.jpg") is False


def test_a_write_fences_its_facts_for_a_while(recording: Any, monkeypatch: Any) -> None:
    from storage_mixins.services import metadata_cache

    cached = Caching(recording)
    cached.save("photos/b.jpg", ContentFile(b"b"))
    recording.calls.clear()
    for _ in range(2):
        cached.exists("photos/b.jpg")
    assert len(recording.calls) == 2  # uncached while the fence lives
    assert metadata_cache.FENCE_SECONDS == 30
    caches["default"].clear()  # as when the fence expires
    for _ in range(2):
        cached.exists("photos/b.jpg")
    assert len(recording.calls) == 3


# -- keys ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a.txt", "with space.txt", "ünïcödé/名前.jpg", "x" * 1000, "tab\tand\nnewline", "a:b;c"],
    ids=["plain", "space", "unicode", "long", "control", "punctuation"],
)
def test_keys_are_safe_for_every_backend(name: str) -> None:
    cached = Caching(InMemoryStorage(), key_prefix=None)
    metadata = cached._self_metadata
    for fact in ("exists", "size", "listdir", "url", "get_modified_time", "contents"):
        key = caches["default"].make_key(_key(metadata.namespace, fact, name))
        assert list(memcache_key_warnings(key)) == []
        assert len(key) <= 250


def test_storages_sharing_a_cache_never_collide(tmp_path: Path, cache_alias: str) -> None:
    one = FileSystemStorage(location=tmp_path / "one")
    two = FileSystemStorage(location=tmp_path / "two")
    one.save("a.txt", ContentFile(b"1"))
    two.save("a.txt", ContentFile(b"22"))
    assert Caching(one, cache=cache_alias).size("a.txt") == 1
    assert Caching(two, cache=cache_alias).size("a.txt") == 2


def test_key_prefix_replaces_the_storage_identity(tmp_path: Path) -> None:
    # Same prefix: deliberately shared entries (e.g. one bucket behind two classes).
    one = FileSystemStorage(location=tmp_path / "one")
    two = FileSystemStorage(location=tmp_path / "two")
    one.save("a.txt", ContentFile(b"1"))
    assert Caching(one, key_prefix="media").exists("a.txt")
    assert Caching(two, key_prefix="media").exists("a.txt")


# -- urls ----------------------------------------------------------------------


def test_signed_urls_are_kept_half_their_life(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    signing = s3.storage(querystring_auth=True, querystring_expire=600)
    cached = Caching(signing, timeout=3600)
    timeouts = []
    original = cached._self_metadata.add
    monkeypatch.setattr(
        cached._self_metadata,
        "add",
        lambda reservation, value, timeout: (
            timeouts.append(timeout),
            original(reservation, value, timeout),
        ),
    )
    url = cached.url("photos/a.jpg")
    assert "Signature=" in url
    assert cached.url("photos/a.jpg") == url
    assert len(timeouts) == 1 and 295 <= timeouts[0] <= 300


def test_short_lived_signed_urls_are_not_cached(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from storages.backends.s3 import S3Storage

    calls = []
    original = S3Storage.url
    monkeypatch.setattr(
        S3Storage,
        "url",
        lambda self, name, *a, **k: calls.append(name) or original(self, name, *a, **k),
    )
    cached = Caching(s3.storage(querystring_auth=True, querystring_expire=1))
    cached.url("a.jpg")
    cached.url("a.jpg")
    assert len(calls) == 2


def test_urls_with_arguments_are_never_cached(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from storages.backends.s3 import S3Storage

    calls = []
    original = S3Storage.url
    monkeypatch.setattr(
        S3Storage,
        "url",
        lambda self, name, *a, **k: calls.append(name) or original(self, name, *a, **k),
    )
    cached = Caching(s3.storage(querystring_auth=False))
    cached.url("a.jpg")
    cached.url("a.jpg")
    cached.url("a.jpg", parameters={"ResponseContentDisposition": "attachment"})
    cached.url("a.jpg", expire=10)
    cached.url("a.jpg", http_method="PUT")
    assert len(calls) == 4


NOW = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://b.s3.amazonaws.com/a.jpg", None),
        ("/media/a.jpg?v=3", None),
        (
            "https://b.s3.amazonaws.com/a.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Date=20261124T115500Z&X-Amz-Expires=3600&X-Amz-Signature=ab",
            3300.0,
        ),
        ("https://b.s3.amazonaws.com/a.jpg?AWSAccessKeyId=k&Signature=s&Expires=1795525200",
         3600.0),
        ("https://d.cloudfront.net/a.jpg?Expires=1795518000&Signature=s&Key-Pair-Id=k", 0.0),
        (
            "https://storage.googleapis.com/b/a.jpg?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Date=20261124T120000Z&X-Goog-Expires=60&X-Goog-Signature=s",
            60.0,
        ),
        ("https://a.blob.core.windows.net/c/a.jpg?se=2026-11-24T13:00:00Z&sig=s", 3600.0),
        ("https://b.s3.amazonaws.com/a.jpg?X-Amz-Signature=ab", 0.0),  # expiry unreadable
        ("https://b.s3.amazonaws.com/a.jpg?Signature=s&Expires=soon", 0.0),
    ],
    ids=["plain", "relative", "sigv4", "sigv2", "cloudfront-expired", "gcs", "azure", "no-expiry",
         "bad-expiry"],
)  # fmt: skip
def test_seconds_left(url: str, expected: float | None) -> None:
    assert seconds_left(url, now=NOW) == expected


# -- cache failures --------------------------------------------------------------


def test_a_dead_cache_does_not_break_storage_calls(
    settings: Any, recording: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import free_port

    settings.CACHES = {
        **settings.CACHES,
        "dead": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}",  # nothing listens
        },
    }
    cached = Caching(recording, cache="dead")
    with caplog.at_level(logging.WARNING, logger="storage_mixins"):
        for _ in range(3):
            assert cached.exists("photos/a.jpg")
            assert cached.size("photos/a.jpg") == 12
        cached.save("b.txt", ContentFile(b"b"))
        assert cached.exists("b.txt")
    assert recording.methods_called().count("exists") == 4  # nothing was cached
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per outage, not per call
    assert "ConnectionError" in warnings[0].getMessage()


def test_cache_outage_and_recovery(
    redis_binary: str,
    tmp_path: Path,
    settings: Any,
    recording: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.conftest import RedisServer

    server = RedisServer(redis_binary, tmp_path).start()
    try:
        settings.CACHES = {
            **settings.CACHES,
            "flaky": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": server.url,
            },
        }
        cached = Caching(recording, cache="flaky")
        assert cached.exists("photos/a.jpg")
        server.stop()
        with caplog.at_level(logging.INFO, logger="storage_mixins"):
            assert cached.exists("photos/a.jpg")  # answered by the storage
            server.start()
            assert cached.exists("photos/a.jpg")
            assert cached.exists("photos/a.jpg")
        assert recording.methods_called() == ["exists"] * 3
        messages = [r.getMessage() for r in caplog.records]
        assert any("failed" in m for m in messages)
        assert any("works again" in m for m in messages)
    finally:
        server.stop()


# -- configuration ------------------------------------------------------------------


def test_configured_in_storages(settings: Any, use_storages: Any, tmp_path: Path) -> None:
    use_storages(
        {
            **settings.STORAGES,
            "media": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {
                    "storage": "production",
                    "cache": "default",
                    "timeout": 60,
                    "contents": "media-cache",
                },
            },
            "media-cache": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "cache")},
            },
        }
    )
    storages["production"].save("a.txt", ContentFile(b"production"))
    media = storages["media"]
    assert isinstance(media, Caching)
    assert isinstance(media, InMemoryStorage)
    assert read(media, "a.txt") == b"production"
    assert media.deconstruct() == (
        "storage_mixins.Caching",
        (),
        {"storage": "production", "cache": "default", "timeout": 60, "contents": "media-cache"},
    )
    assert repr(media).startswith("Caching(InMemoryStorage(), cache='default', timeout=60")


def test_unknown_cache_alias() -> None:
    from django.core.cache import InvalidCacheBackendError

    with pytest.raises(InvalidCacheBackendError):
        Caching(InMemoryStorage(), cache="nope")


def test_contents_need_local_paths() -> None:
    with pytest.raises(ImproperlyConfigured, match="needs a storage with local paths"):
        Caching(InMemoryStorage(), contents=ReadOnly(InMemoryStorage()))


def test_writes_through_a_read_only_cached_storage_are_refused(recording: Any) -> None:
    cached = Caching(ReadOnly(recording))
    with pytest.raises(ReadOnlyError):
        cached.save("x.txt", ContentFile(b"x"))
    assert cached.refuses_writes


# -- time zones ----------------------------------------------------------------

TIME_FACTS = ["get_modified_time", "get_accessed_time", "get_created_time"]


@pytest.mark.parametrize("fact", TIME_FACTS)
@pytest.mark.parametrize("first", [True, False], ids=["aware-first", "naive-first"])
def test_cached_times_follow_use_tz(
    tmp_path: Path, settings: Any, cache_alias: str, fact: str, first: bool
) -> None:
    raw = FileSystemStorage(location=tmp_path)
    raw.save("a.txt", ContentFile(b"a"))
    cached = Caching(raw, cache=cache_alias)
    for use_tz in (first, not first, first):
        settings.USE_TZ = use_tz
        for _ in range(2):  # computed, then cached
            answer, expected = getattr(cached, fact)("a.txt"), getattr(raw, fact)("a.txt")
            assert answer == expected
            assert (answer.tzinfo is None) == (expected.tzinfo is None) == (not use_tz)
            assert answer.utcoffset() == expected.utcoffset()


def test_cached_times_follow_use_tz_over_s3(s3: Any, settings: Any) -> None:
    s3.put("a.txt", b"a")
    raw = s3.storage()
    cached = Caching(raw)
    for use_tz in (True, False, True):
        settings.USE_TZ = use_tz
        for _ in range(2):
            answer, expected = cached.get_modified_time("a.txt"), raw.get_modified_time("a.txt")
            assert answer == expected
            assert (answer.tzinfo is None) == (not use_tz)


# -- writes that fail part-way, and the directories a write creates -------------------


class _DiskFull(FileSystemStorage):
    """Writes part of each file, then fails as a full disk does."""

    def _save(self, name: str, content: Any) -> str:
        import errno

        with open(self.path(name), "wb") as handle:
            handle.write(b"par")
        raise OSError(errno.ENOSPC, "No space left on device")

    def _open(self, name: str, mode: str = "rb") -> Any:
        import errno

        if "w" in mode:
            with open(self.path(name), "wb") as handle:
                handle.write(b"par")
            raise OSError(errno.ENOSPC, "No space left on device")
        return super()._open(name, mode)

    def delete(self, name: str) -> None:
        super().delete(name)
        raise OSError("the delete happened, then the connection broke")


FAILING_WRITES = {
    "save": lambda s, name: s.save(name, ContentFile(b"partial")),
    "_save": lambda s, name: s._save(name, ContentFile(b"partial")),
    "open-wb": lambda s, name: s.open(name, "wb"),
}


@pytest.mark.parametrize("write", FAILING_WRITES.values(), ids=FAILING_WRITES.keys())
def test_a_write_that_raises_part_way_still_invalidates(
    tmp_path: Path, cache_alias: str, write: Any
) -> None:
    raw = _DiskFull(location=tmp_path)
    (tmp_path / "photos").mkdir()
    cached = Caching(raw, cache=cache_alias)
    assert not cached.exists("photos/a.jpg")
    assert cached.listdir("photos") == ([], [])
    with pytest.raises(OSError, match="No space left"):
        write(cached, "photos/a.jpg")
    assert raw.exists("photos/a.jpg")  # what the failed write left
    assert cached.exists("photos/a.jpg")
    assert cached.size("photos/a.jpg") == 3
    assert cached.listdir("photos") == ([], ["a.jpg"])


def test_a_delete_that_raises_after_deleting_still_invalidates(
    tmp_path: Path, cache_alias: str
) -> None:
    raw = _DiskFull(location=tmp_path)
    FileSystemStorage(location=tmp_path).save("a.jpg", ContentFile(b"a"))
    cached = Caching(raw, cache=cache_alias)
    assert cached.exists("a.jpg")
    with pytest.raises(OSError, match="connection broke"):
        cached.delete("a.jpg")
    assert not cached.exists("a.jpg")


def test_a_new_directory_is_seen_at_once(tmp_path: Path, cache_alias: str) -> None:
    import os

    raw = FileSystemStorage(location=tmp_path)
    raw.save("path/seed.txt", ContentFile(b"seed"))
    os.utime(tmp_path / "path", (0, 0))
    cached = Caching(raw, cache=cache_alias)
    before = {
        "exists": (cached.exists("path/to"), cached.exists("path/to/deeper")),
        "listdir": cached.listdir("path"),
        "modified": cached.get_modified_time("path"),
    }
    assert before["exists"] == (False, False)
    cached.save("path/to/deeper/f.txt", ContentFile(b"f"))
    assert cached.exists("path/to") and cached.exists("path/to/deeper")
    assert cached.exists("path/to") == raw.exists("path/to")
    assert cached.listdir("path") == raw.listdir("path") == (["to"], ["seed.txt"])
    assert cached.get_modified_time("path") == raw.get_modified_time("path")
    assert cached.get_modified_time("path") != before["modified"]
    cached.delete("path/to/deeper/f.txt")
    assert cached.listdir("path/to/deeper") == ([], [])


# -- what is evaluated when --------------------------------------------------------------


def test_nothing_lazy_is_forced_when_the_wrapper_is_built(tmp_path: Path, settings: Any) -> None:
    from django.utils.functional import lazy

    evaluated: list[str] = []

    def media_url() -> str:
        evaluated.append("base_url")
        return "/lazy-media"  # FileSystemStorage adds the slash, making it a str

    settings.MEDIA_ROOT = str(tmp_path / "media")
    raw = FileSystemStorage(base_url=lazy(media_url, str)())  # location: MEDIA_ROOT, lazily
    cached = Caching(raw)
    assert evaluated == []
    assert "location" not in raw.__dict__  # FileSystemStorage's cached_property, unread
    settings.MEDIA_ROOT = str(tmp_path / "moved")  # as a test settings override would
    cached.save("a.txt", ContentFile(b"a"))
    assert (tmp_path / "moved" / "a.txt").exists()
    assert cached.exists("a.txt") and cached.size("a.txt") == 1
    assert evaluated == []  # Django evaluates base_url in url() only
    assert cached.url("a.txt") == raw.url("a.txt") == "/lazy-media/a.txt"
    assert evaluated


urlpatterns: list[Any] = []  # ROOT_URLCONF of the test below: no URL at all


def test_a_base_url_that_cannot_be_reversed_fails_only_url(tmp_path: Path, settings: Any) -> None:
    from django.urls import NoReverseMatch, reverse_lazy

    settings.ROOT_URLCONF = __name__
    raw = FileSystemStorage(location=tmp_path, base_url=reverse_lazy("no-such-view"))
    cached = Caching(raw)  # built, as at import time, before any URL exists
    cached.save("a.txt", ContentFile(b"a"))
    assert cached.exists("a.txt")
    with pytest.raises(NoReverseMatch):
        raw.url("a.txt")
    with pytest.raises(NoReverseMatch):
        cached.url("a.txt")


def test_storages_that_differ_only_in_base_url_keep_their_own_urls(tmp_path: Path) -> None:
    one = Caching(FileSystemStorage(location=tmp_path, base_url="/one/"))
    two = Caching(FileSystemStorage(location=tmp_path, base_url="/two/"))
    for _ in range(2):
        assert one.url("a.txt") == "/one/a.txt"
        assert two.url("a.txt") == "/two/a.txt"


@pytest.mark.parametrize("first", [None, "None"], ids=["root-first", "file-first"])
def test_the_root_s_url_and_a_file_named_none_keep_their_own_urls(
    tmp_path: Path, first: str | None
) -> None:
    # url(None) is the root's URL (Django's FileSystemStorage gives base_url);
    # "None" is a file. One cache entry for both answered for the other.
    raw = FileSystemStorage(location=tmp_path, base_url="/media/")
    cached = Caching(raw)
    for name in (first, "None" if first is None else None, first):
        assert cached.url(name) == raw.url(name)


# -- names spelled two ways ---------------------------------------------------------------


def test_an_absolute_name_and_its_relative_twin_are_different_files(tmp_path: Path) -> None:
    raw = FileSystemStorage(location=tmp_path)
    twin = f"{str(tmp_path).lstrip('/')}/a.txt"  # "abs/loc/a.txt": under abs/loc/abs/loc/
    raw.save(twin, ContentFile(b"relative twin"))
    cached = Caching(raw)
    assert cached.exists(twin) and cached.size(twin) == 13
    assert cached.exists(f"/{twin}") is raw.exists(f"/{twin}") is False  # /abs/loc/a.txt
    cached.save("a.txt", ContentFile(b"a"))  # which /abs/loc/a.txt names
    assert cached.exists(f"/{twin}") is raw.exists(f"/{twin}") is True
    assert cached.size(f"/{twin}") == 1 and cached.size(twin) == 13


def test_writes_are_seen_by_absolute_names_and_the_other_way_round(tmp_path: Path) -> None:
    raw = FileSystemStorage(location=tmp_path)
    cached = Caching(raw)
    location = raw.location
    assert cached.listdir(location) == ([], [])  # as collectstatic asks
    cached.save("a.txt", ContentFile(b"a"))
    assert cached.listdir(location) == raw.listdir(location) == ([], ["a.txt"])
    assert cached.exists("a.txt")
    cached.delete(f"{location}/a.txt")  # FileSystemStorage deletes a.txt
    assert not raw.exists("a.txt")
    assert not cached.exists("a.txt")
    assert cached.listdir("") == ([], [])


def test_a_trailing_slash_is_another_key_on_s3(s3: Any) -> None:
    s3.put("a", b"a file")
    raw = s3.storage()
    cached = Caching(raw)
    assert cached.exists("a")
    assert cached.exists("a/") is raw.exists("a/") is False
    assert cached.listdir("") == cached.listdir("/") == raw.listdir("") == ([], ["a"])


def test_collectstatic_warns_before_overwriting_through_caching(
    tmp_path: Path, settings: Any, use_storages: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.management import call_command

    source = tmp_path / "source"
    (source / "css").mkdir(parents=True)
    (source / "css" / "site.css").write_text("body {}")
    settings.STATICFILES_DIRS = [str(source)]
    settings.STATIC_ROOT = str(tmp_path / "static")
    (tmp_path / "static").mkdir()
    use_storages(
        {
            **settings.STORAGES,
            "staticfiles": {
                "BACKEND": "storage_mixins.Caching",
                "OPTIONS": {"storage": "static-files"},
            },
            "static-files": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "yes")
    call_command("collectstatic", interactive=True, verbosity=0)
    assert prompts == []  # an empty STATIC_ROOT: nothing to warn about
    call_command("collectstatic", interactive=True, verbosity=0)
    [prompt] = prompts
    assert "This will overwrite existing files!" in prompt


# -- eviction: any key can vanish at any time ---------------------------------------------


class _WriteDuringRead(FileSystemStorage):
    """A storage whose next ``exists()`` answers, then lets ``during`` run before
    returning: a reader that computed its answer before a write that returns
    while it is still on its way to the cache."""

    during: Any = None

    def exists(self, name: str) -> bool:
        found = super().exists(name)
        during, self.during = self.during, None
        if during is not None:
            during()
        return found


_traffic = itertools.count()


def _fill(alias: str, entries: int, size: int = 100) -> None:
    """Ordinary traffic: ``entries`` new keys of ``size`` bytes."""
    cache = caches[alias]
    for _ in range(entries):
        cache.set(f"traffic-{next(_traffic)}", b"x" * size)


@pytest.mark.parametrize("cull_frequency", [3, 0], ids=["cull-a-third", "cull-everything"])
def test_evicting_the_fence_does_not_let_a_stale_answer_in(
    settings: Any, tmp_path: Path, cull_frequency: int
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "small": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"small-{cull_frequency}",
            "OPTIONS": {"MAX_ENTRIES": 30, "CULL_FREQUENCY": cull_frequency},
        },
    }
    caches["small"].clear()
    raw = _WriteDuringRead(location=tmp_path)
    reader = Caching(raw, cache="small", key_prefix="shared")
    writer = Caching(FileSystemStorage(location=tmp_path), cache="small", key_prefix="shared")

    def write_then_traffic() -> None:
        writer.save("a.txt", ContentFile(b"a"))
        _fill("small", 200)  # ordinary traffic culls the fence

    raw.during = write_then_traffic
    assert reader.exists("a.txt") is False  # computed before the write
    assert reader.exists("a.txt") is True  # the stale answer was not stored
    assert writer.exists("a.txt") is True


def test_clearing_the_cache_does_not_let_a_stale_answer_in(
    tmp_path: Path, cache_alias: str
) -> None:
    raw = _WriteDuringRead(location=tmp_path)
    reader = Caching(raw, cache=cache_alias, key_prefix="shared")
    writer = Caching(FileSystemStorage(location=tmp_path), cache=cache_alias, key_prefix="shared")

    def write_then_clear() -> None:
        writer.save("a.txt", ContentFile(b"a"))
        caches[cache_alias].clear()  # fences and versions: everything is gone

    raw.during = write_then_clear
    assert reader.exists("a.txt") is False
    assert reader.exists("a.txt") is True


def test_a_fence_that_expired_during_a_long_stall_is_not_enough(
    tmp_path: Path, cache_alias: str
) -> None:
    from storage_mixins.services.cache_keys import cache_key as _key

    raw = _WriteDuringRead(location=tmp_path)
    reader = Caching(raw, cache=cache_alias, key_prefix="shared")
    writer = Caching(FileSystemStorage(location=tmp_path), cache=cache_alias, key_prefix="shared")

    def write_then_expire_the_fence() -> None:
        writer.save("a.txt", ContentFile(b"a"))
        namespace = writer._self_metadata.namespace
        caches[cache_alias].delete(_key(namespace, "exists", "a.txt"))  # past FENCE_SECONDS

    raw.during = write_then_expire_the_fence
    assert reader.exists("a.txt") is False
    assert reader.exists("a.txt") is True


def test_redis_evicting_under_maxmemory_never_makes_an_answer_stale(
    redis_binary: str, tmp_path: Path, settings: Any
) -> None:
    import redis

    from storage_mixins.services.cache_keys import cache_key as _key
    from tests.conftest import RedisServer

    server = RedisServer(redis_binary, tmp_path).start()
    try:
        client = redis.Redis.from_url(server.url)
        client.config_set("maxmemory", str(4 * 1024 * 1024))
        client.config_set("maxmemory-policy", "allkeys-lru")
        settings.CACHES = {
            **settings.CACHES,
            "lru": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": server.url},
        }  # fmt: skip
        raw = _WriteDuringRead(location=tmp_path / "files")
        reader = Caching(raw, cache="lru", key_prefix="shared")
        writer = Caching(
            FileSystemStorage(location=tmp_path / "files"), cache="lru", key_prefix="shared"
        )
        evicted_fence: list[bool] = []

        def write_then_evict() -> None:
            writer.save("a.txt", ContentFile(b"a"))
            fence = caches["lru"].make_key(_key(writer._self_metadata.namespace, "exists", "a.txt"))
            for _round in range(200):  # real traffic, until the LRU takes the fence
                if not client.exists(fence):
                    break
                _fill("lru", 20, size=64 * 1024)
            evicted_fence.append(not client.exists(fence))

        raw.during = write_then_evict
        assert reader.exists("a.txt") is False
        assert evicted_fence == [True]
        assert client.info("stats")["evicted_keys"] > 0
        assert reader.exists("a.txt") is True
    finally:
        server.stop()


# -- writes while the cache is down ----------------------------------------------------------


@pytest.fixture
def persistent_redis(redis_binary: str, tmp_path: Path, settings: Any) -> Any:
    """A redis-server that keeps a snapshot (SAVE) across a restart on its port."""
    from tests.conftest import RedisServer

    server = RedisServer(redis_binary, tmp_path).start()
    settings.CACHES = {
        **settings.CACHES,
        "persistent": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
        },
    }
    yield server
    server.stop()


def _snapshot_and_stop(server: Any) -> None:
    import redis

    redis.Redis.from_url(server.url).save()  # dump.rdb, loaded again at start
    server.stop()


def test_a_write_while_the_cache_is_down_is_replayed_when_it_is_back(
    persistent_redis: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "files").mkdir()
    raw = FileSystemStorage(location=tmp_path / "files")
    writer = Caching(raw, cache="persistent", key_prefix="shared")
    other = Caching(FileSystemStorage(location=tmp_path / "files"), cache="persistent",
                    key_prefix="shared")  # fmt: skip
    assert not other.exists("a.txt")
    assert other.listdir("") == ([], [])
    _snapshot_and_stop(persistent_redis)
    with caplog.at_level(logging.INFO, logger="storage_mixins"):
        writer.save("a.txt", ContentFile(b"a"))  # the invalidation cannot reach the cache
        persistent_redis.start()  # back, with the snapshot's stale facts
        assert writer.exists("a.txt")  # replayed before the first hit is served
    assert other.exists("a.txt")
    assert other.listdir("") == ([], ["a.txt"])
    assert any("replayed" in r.getMessage() for r in caplog.records)


def test_a_write_while_the_cache_is_down_is_replayed_at_exit(
    persistent_redis: Any, tmp_path: Path
) -> None:
    from django.conf import settings

    files = tmp_path / "files"
    other = Caching(FileSystemStorage(location=files), cache="persistent", key_prefix="shared")
    assert not other.exists("a.txt")
    _snapshot_and_stop(persistent_redis)
    script = textwrap.dedent(
        f"""
        import sys
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True, CACHES={{"persistent": {{
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": {settings.CACHES["persistent"]["LOCATION"]!r}}}}})
        django.setup()
        from django.core.files.base import ContentFile
        from django.core.files.storage import FileSystemStorage
        from storage_mixins import Caching
        cached = Caching(FileSystemStorage(location={str(files)!r}), cache="persistent",
                         key_prefix="shared")
        print(cached.save("a.txt", ContentFile(b"a")), flush=True)
        sys.stdin.readline()  # the cache is back; exit without another call
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "a.txt"
        persistent_redis.start()
        assert not other.exists("a.txt")  # stale until the writer replays: documented
        _stdout, stderr = child.communicate("\n", timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    assert other.exists("a.txt")


def test_an_invalidation_lost_with_the_writer_is_reported(
    persistent_redis: Any, tmp_path: Path
) -> None:
    from django.conf import settings

    _snapshot_and_stop(persistent_redis)
    script = textwrap.dedent(
        f"""
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True, CACHES={{"persistent": {{
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": {settings.CACHES["persistent"]["LOCATION"]!r}}}}})
        django.setup()
        from django.core.files.base import ContentFile
        from django.core.files.storage import FileSystemStorage
        from storage_mixins import Caching
        cached = Caching(FileSystemStorage(location={str(tmp_path / "files")!r}),
                         cache="persistent")
        cached.save("a.txt", ContentFile(b"a"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "1 invalidation(s) never reached cache" in result.stderr


def test_fences_a_restarted_cache_lost_are_replayed_after_an_outage(
    persistent_redis: Any, tmp_path: Path
) -> None:
    import redis

    (tmp_path / "files").mkdir()
    writer = Caching(FileSystemStorage(location=tmp_path / "files"), cache="persistent",
                     key_prefix="shared")  # fmt: skip
    assert not writer.exists("a.txt")
    redis.Redis.from_url(persistent_redis.url).save()  # a snapshot from before the write
    writer.save("a.txt", ContentFile(b"a"))  # fenced in memory only
    persistent_redis.stop()  # lost with the process: the snapshot is older
    assert writer.exists("a.txt")  # the outage is seen
    persistent_redis.start()
    other = Caching(FileSystemStorage(location=tmp_path / "files"), cache="persistent",
                    key_prefix="shared")  # fmt: skip
    assert writer.exists("a.txt")  # the write of the last 30 s is fenced again
    assert other.exists("a.txt")
