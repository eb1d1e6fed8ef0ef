"""Caching(listings=...): answers from cached directory listings, counted at the S3 server."""

from __future__ import annotations

import datetime
import logging
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import (
    Caching,
    Fallback,
    FallbackStorage,
    Logging,
    ReadOnly,
    ReadOnlyError,
    describe,
)
from storage_mixins.backends.errors import is_not_found
from storage_mixins.services.listing_codec import decoded_listings
from tests.conftest import PRODUCTION_BUCKET
from tests.s3server import S3Server
from tests.seeding import put_many

PHOTOS = [f"photos/{index:03d}.jpg" for index in range(200)]
UPLOADS = [f"uploads/{index:02d}.jpg" for index in range(20)]
MISSING = [f"photos/missing-{index:02d}.jpg" for index in range(50)]


@pytest.fixture(autouse=True)
def _roomy_cache(settings: Any) -> None:
    """A LocMemCache that keeps a page's facts (300 entries would cull them)."""
    settings.CACHES = {
        **settings.CACHES,
        "roomy": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"roomy-{uuid.uuid4().hex}",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
    }


def cached(storage: Any, **options: Any) -> Caching:
    return Caching(storage, cache="roomy", key_prefix=uuid.uuid4().hex, **options)


def listings_sent(s3: Any) -> int:
    return sum(1 for r in s3.server.requests() if r.method == "GET" and "list-type=2" in r.query)


def others_sent(s3: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in s3.server.requests():
        if request.method == "GET" and "list-type=2" in request.query:
            continue
        counts[request.method] = counts.get(request.method, 0) + 1
    return counts


@pytest.fixture
def production(s3: Any) -> Any:
    put_many(s3, ((name, b"\xff" * (1000 + index)) for index, name in enumerate(PHOTOS)),
             PRODUCTION_BUCKET)  # fmt: skip
    s3.server.clear_requests()
    return s3.storage(querystring_auth=False)


@pytest.fixture
def local(tmp_path: Path) -> FileSystemStorage:
    storage = FileSystemStorage(location=tmp_path / "local", base_url="/media/")
    for name in UPLOADS:
        storage.save(name, ContentFile(b"local " + name.encode()))
    return storage


# Production first, with listings: Caching over the whole stack, or over the S3 layer.
PLACEMENTS = {
    "Caching(Fallback(ReadOnly(s3), fs))": lambda s3, fs, **o: cached(
        Fallback(ReadOnly(s3), fs), listings=True, **o
    ),
    "Fallback(Caching(ReadOnly(s3)), fs)": lambda s3, fs, **o: Fallback(
        cached(ReadOnly(s3), listings=True, **o), fs
    ),
}


def page_render(storage: Any) -> None:
    for name in PHOTOS + UPLOADS:
        storage.url(name)
        storage.exists(name)
        storage.size(name)


# -- request counts -------------------------------------------------------------------


@pytest.mark.parametrize("make", PLACEMENTS.values(), ids=PLACEMENTS.keys())
def test_page_render_is_two_listings_cold_and_nothing_warm(
    make: Any, s3: Any, production: Any, local: Any
) -> None:
    stack = make(production, local)
    page_render(stack)
    # photos/ and uploads/ (where S3 is asked first, and lists it empty).
    assert s3.server.counts() == {"GET": 2} and listings_sent(s3) == 2
    s3.server.clear_requests()
    page_render(stack)
    assert s3.server.requests() == []
    assert stack.size(PHOTOS[7]) == 1007
    assert stack.url(PHOTOS[7]).endswith("/photos/007.jpg")
    assert stack.url(UPLOADS[3]) == "/media/uploads/03.jpg"


@pytest.mark.parametrize("make", PLACEMENTS.values(), ids=PLACEMENTS.keys())
def test_existence_and_metadata_cold(make: Any, s3: Any, production: Any, local: Any) -> None:
    stack = make(production, local)
    found = [stack.exists(name) for name in PHOTOS + UPLOADS + MISSING]
    assert found == [True] * 220 + [False] * 50
    assert s3.server.counts() == {"GET": 2}
    fresh = make(production, local)
    s3.server.clear_requests()
    for name in PHOTOS[:50]:
        assert fresh.size(name) == 1000 + PHOTOS.index(name)
        assert fresh.get_modified_time(name) == production.get_modified_time(name)
    assert listings_sent(s3) == 1 and others_sent(s3) == {"HEAD": 50}  # HEADs: the raw calls


@pytest.mark.parametrize("make", PLACEMENTS.values(), ids=PLACEMENTS.keys())
def test_the_rendition_pattern_is_one_listing_and_one_get(
    make: Any, s3: Any, production: Any, local: Any
) -> None:
    stack = make(production, local)
    name = PHOTOS[42]
    assert stack.exists(name) and stack.size(name) == 1042
    with pytest.raises(NotImplementedError):
        stack.path(name)  # is_stored_locally(): production files have no path
    assert stack.path("test") == local.path("test")  # the probe for a missing name
    with stack.open(name) as handle:
        assert handle.read() == b"\xff" * 1042
    assert listings_sent(s3) == 2  # photos/ and the root ("test")
    assert others_sent(s3) == {"GET": 1}


def test_local_first_asks_s3_only_for_what_is_not_local(
    s3: Any, production: Any, local: Any
) -> None:
    stack = cached(Fallback(local, ReadOnly(production)))  # listings="auto"
    page_render(stack)
    assert s3.server.counts() == {"GET": 1}  # photos/; uploads/ is local
    s3.server.clear_requests()
    page_render(stack)
    assert s3.server.requests() == []


def test_many_directories_cost_one_listing_each(s3: Any) -> None:
    names = [f"d{directory:02d}/{index:03d}.jpg" for directory in range(20) for index in range(60)]
    put_many(s3, ((name, b"x") for name in names), PRODUCTION_BUCKET)
    s3.server.clear_requests()
    stack = cached(s3.storage())
    assert all(stack.exists(name) for name in names)
    assert s3.server.counts() == {"GET": 20}


def test_a_directory_over_the_limit_is_asked_per_file_and_not_listed_again(s3: Any) -> None:
    put_many(s3, ((f"big/{index:04d}.jpg", b"x") for index in range(1_200)), PRODUCTION_BUCKET)
    s3.server.clear_requests()
    stack = cached(s3.storage(), listing_limit=1_100)
    assert stack.exists("big/0007.jpg")
    assert listings_sent(s3) == 2  # 1,000 entries, then the 100 up to the limit: too many
    assert others_sent(s3) == {"HEAD": 1}
    s3.server.clear_requests()
    assert stack.exists("big/0008.jpg") and not stack.exists("big/nope.jpg")
    assert listings_sent(s3) == 0 and others_sent(s3) == {"HEAD": 2}
    assert "≤ 1,100 entries" in describe(stack)


def test_the_default_limit_costs_five_listings_at_most(s3: Any) -> None:
    put_many(s3, ((f"huge/{index:05d}", b"") for index in range(5_200)), PRODUCTION_BUCKET)
    s3.server.clear_requests()
    stack = cached(s3.storage())
    assert stack.exists("huge/00001")
    assert listings_sent(s3) == 5 and others_sent(s3) == {"HEAD": 1}


def test_threads_share_one_listing(s3: Any, production: Any) -> None:
    import concurrent.futures

    stack = cached(production)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(pool.map(stack.exists, PHOTOS))
    assert listings_sent(s3) == 1
    assert others_sent(s3) == {}


# -- what a listing answers, and what it leaves to the storage --------------------------


def test_answers_are_the_backend_s_own(s3: Any, settings: Any) -> None:
    for key in ["a", "a/b", "a/c/d", "café/x", "cafe\u0301/y", "sp ace/z", "d/"]:
        s3.put(key, key.encode())
    raw = s3.storage()
    stack = cached(s3.storage())
    for name in ["a", "a/b", "a/c", "a/c/d", "a/x", "café/x", "cafe\u0301/x", "cafe\u0301/y",
                 "sp ace/z", "d", "nowhere/deep/x"]:  # fmt: skip
        assert stack.exists(name) == raw.exists(name), name
    assert stack.size("a") == 1 and stack.size("a/b") == 3
    assert stack.get_modified_time("a/b") == raw.get_modified_time("a/b")
    assert stack.get_modified_time("a/b").microsecond == 0  # whole seconds, as a HEAD gives
    settings.USE_TZ = False
    assert stack.get_modified_time("a/b") == raw.get_modified_time("a/b")
    assert stack.get_modified_time("a/b").tzinfo is None


def test_missing_files_raise_what_the_backend_raises(s3: Any) -> None:
    s3.put("photos/a.jpg", b"a")
    raw = s3.storage()
    stack = cached(s3.storage())
    stack.exists("photos/a.jpg")  # lists photos/
    s3.server.clear_requests()
    for call in (
        lambda s: s.size("photos/b.jpg"),
        lambda s: s.get_modified_time("photos/b.jpg"),
        lambda s: s.open("photos/b.jpg"),
    ):
        with pytest.raises(Exception) as listed:  # noqa: PT011 - compared below
            call(stack)
        requests = len(s3.server.requests())
        with pytest.raises(Exception) as asked:  # noqa: PT011
            call(raw)
        assert type(listed.value) is type(asked.value) and is_not_found(listed.value)
        assert requests == 0
        s3.server.clear_requests()
    with pytest.raises(ClientError) as error:
        stack.get_modified_time("photos/b.jpg")
    assert error.value.response["Error"]["Code"] == "404"
    with pytest.raises(NotImplementedError):
        stack.get_created_time("photos/a.jpg")


def test_names_the_listing_cannot_vouch_for_are_asked(s3: Any) -> None:
    s3.put("a/b", b"b")
    raw = s3.storage()
    stack = cached(s3.storage())
    # clean_name reads a backslash as a slash: "a\\b" is the key "a/b".
    assert stack.exists("a\\b") == raw.exists("a\\b") is True
    assert stack.exists("a/../a/b") == raw.exists("a/../a/b")


def test_a_streamed_open_is_read_only_and_a_logging_layer_sees_every_open(
    s3: Any, production: Any, local: Any, caplog: pytest.LogCaptureFixture
) -> None:
    stack = cached(ReadOnly(production))
    with stack.open(PHOTOS[1]) as handle:
        assert handle.read(3) == b"\xff" * 3
        with pytest.raises(ReadOnlyError, match="is read-only"):  # as ReadOnly's own open()
            handle.write(b"x")
    logged = cached(Logging(ReadOnly(production), level="INFO"))
    caplog.set_level(logging.INFO, logger="storage_mixins")
    with logged.open(PHOTOS[1]) as handle:
        assert handle.read() == b"\xff" * 1001
    assert any("open('photos/001.jpg', 'rb')" in record.getMessage() for record in caplog.records)


def test_filesystem_and_listdir_listings(tmp_path: Path) -> None:
    fs = FileSystemStorage(location=tmp_path)
    fs.save("d/a.txt", ContentFile(b"aaa"))
    (tmp_path / "d" / "sub").mkdir()
    (tmp_path / "d" / "dangling").symlink_to(tmp_path / "gone")
    stack = cached(fs, listings=True)
    assert stack.exists("d/a.txt") and stack.exists("d/sub") and stack.exists("d/dangling")
    assert not stack.exists("d/none")
    assert stack.size("d/a.txt") == 3 and stack.size("d/sub") == fs.size("d/sub")
    assert stack.get_modified_time("d/a.txt") == fs.get_modified_time("d/a.txt")
    with pytest.raises(FileNotFoundError):
        stack.size("d/dangling")
    with pytest.raises(NotADirectoryError):
        stack.size("d/a.txt/x")
    with pytest.raises(FileNotFoundError):
        stack.get_accessed_time("d/none")
    memory = InMemoryStorage()
    memory.save("m/a.txt", ContentFile(b"m"))
    listed = cached(memory, listings=True)
    assert listed.exists("m/a.txt") and not listed.exists("m/b.txt") and listed.exists("m")
    assert listed.size("m/a.txt") == 1
    assert "listdir(), existence only" in describe(listed)
    # "auto" lists S3 only.
    assert "listings" not in describe(cached(fs)) and "listings" not in describe(cached(memory))


def test_what_a_listed_reader_intercepts() -> None:
    """ListedReader, Caching's reader of a listed layer, as tests/test_api.py's
    inventory states it for the wrappers: what it answers, what it leaves to
    the reader (it is no wrapper of its own, so no recording of its own)."""
    from storage_mixins.wrappers.caching.listed_reader import ListedReader
    from tests.test_api import STORAGE_API

    answered = {"exists", "size", "get_modified_time", "get_accessed_time", "get_created_time",
                "open", "_open"}  # fmt: skip
    defined = set(vars(ListedReader)) & STORAGE_API
    assert defined == answered
    delegated = STORAGE_API - answered
    assert delegated == {"listdir", "url", "path", "save", "_save", "delete",
                         "get_available_name", "get_alternative_name", "get_valid_name",
                         "generate_filename"} | (delegated & {"is_name_available"})  # fmt: skip


def test_options_are_checked() -> None:
    with pytest.raises(ImproperlyConfigured, match="listings must be"):
        Caching(InMemoryStorage(), listings="yes")
    with pytest.raises(ImproperlyConfigured, match="listing_limit"):
        Caching(InMemoryStorage(), listing_limit=0)
    assert "listings=False" in describe(Caching(InMemoryStorage(), listings=False))


def test_describe_shows_the_listings_of_each_layer(s3: Any) -> None:
    stack = Caching(FallbackStorage([s3.settings(), "local"], writable=1))
    assert describe(stack).splitlines()[0] == (
        "Caching  (cache='default', timeout=300, listings: [0] ListObjectsV2, ≤ 5,000 entries)"
    )
    alone = Caching(s3.storage(), listing_limit=1000)
    assert describe(alone).splitlines()[0] == (
        "Caching  (cache='default', timeout=300, listings: ListObjectsV2, ≤ 1,000 entries)"
    )


# -- coherence ---------------------------------------------------------------------------


def test_writes_through_the_wrapper_are_seen_at_once(s3: Any) -> None:
    s3.put("photos/a.jpg", b"a")
    stack = cached(s3.storage())
    assert not stack.exists("photos/new.jpg")  # from the listing
    stack.save("photos/new.jpg", ContentFile(b"new!"))
    assert stack.exists("photos/new.jpg") and stack.size("photos/new.jpg") == 4
    stack.delete("photos/a.jpg")
    assert not stack.exists("photos/a.jpg")
    stack.save("photos/deep/er/b.jpg", ContentFile(b"b"))
    assert stack.exists("photos/deep/er/b.jpg")
    assert stack.listdir("photos") == (["deep"], ["new.jpg"])


def test_a_written_directory_is_listed_again_once(s3: Any, production: Any) -> None:
    # Deliberate: a write replaces the version of its directory, which the
    # listing carries; the next miss lists it again, at once (it used to be
    # fenced for FENCE_SECONDS, and its files asked about one by one).
    stack = cached(production)
    assert stack.exists(PHOTOS[0])
    stack.save("photos/new.jpg", ContentFile(b"new"))
    s3.server.clear_requests()
    assert stack.exists(PHOTOS[0])  # its own fact: still cached
    assert stack.exists(PHOTOS[1]) and not stack.exists("photos/other.jpg")
    assert stack.size("photos/new.jpg") == 3  # fenced: from the new listing
    assert listings_sent(s3) == 1 and others_sent(s3) == {}


def test_writes_to_a_whole_stack_fence_every_layer_s_listings(
    s3: Any, production: Any, local: Any
) -> None:
    stack = cached(Fallback(ReadOnly(production), local), listings=True)
    assert not stack.exists("uploads/new.jpg")  # both layers listed uploads/
    stack.save("uploads/new.jpg", ContentFile(b"n"))
    assert stack.exists("uploads/new.jpg") and stack.size("uploads/new.jpg") == 1
    stack.delete("uploads/00.jpg")
    assert not stack.exists("uploads/00.jpg")


def test_writes_around_the_wrapper_are_seen_after_invalidate(s3: Any) -> None:
    s3.put("photos/a.jpg", b"a")
    stack = cached(s3.storage())
    assert not stack.exists("photos/b.jpg")
    s3.put("photos/b.jpg", b"b")
    s3.put("photos/c.jpg", b"c")
    assert not stack.exists("photos/b.jpg")  # neither the miss nor the listing knows yet
    stack.invalidate("photos/b.jpg")  # its facts, and the listings above it
    assert stack.exists("photos/b.jpg") and stack.exists("photos/c.jpg")


def test_a_listing_lives_no_longer_than_a_miss(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from storage_mixins.services import metadata_cache

    s3.put("photos/a.jpg", b"a")
    timeouts = []
    add = metadata_cache.MetadataCache.add

    def recording_add(self: Any, reservation: Any, value: Any, timeout: Any = None) -> None:
        if reservation is not None and type(value) is tuple and value[:1] == ("sm-listing-2",):
            timeouts.append(timeout)
        add(self, reservation, value, timeout)

    monkeypatch.setattr(metadata_cache.MetadataCache, "add", recording_add)
    cached(s3.storage(), timeout=600, missing_timeout=20).exists("photos/a.jpg")
    cached(s3.storage(), timeout=60, missing_timeout=None).exists("photos/a.jpg")
    assert timeouts == [20, 60]


def test_nothing_is_listed_when_nothing_would_be_kept(s3: Any) -> None:
    s3.put("photos/a.jpg", b"a")
    for options in ({"timeout": 0}, {"missing_timeout": 0}):
        stack = cached(s3.storage(), **options)
        assert stack.exists("photos/a.jpg") and not stack.exists("photos/b.jpg")
        assert "a listing would not be kept" in describe(stack)
    assert listings_sent(s3) == 0


def test_decoded_listings_are_only_a_memory_of_the_cache(s3: Any, production: Any) -> None:
    stack = cached(production)
    assert stack.exists(PHOTOS[0])
    decoded_listings.clear()
    assert stack.exists(PHOTOS[1]) and stack.size(PHOTOS[2]) == 1002
    assert listings_sent(s3) == 1


def encoded_listing(entries: int) -> Any:
    """A cached listing of ``entries`` files, as the Django cache keeps it."""
    from storage_mixins.backends.listing import Entry, Kind, ListdirLister, Listing
    from storage_mixins.services.listing_codec import encode

    files = {f"{index}.txt": Entry(f"d/{index}.txt", index) for index in range(entries)}
    return encode(Listing("d", files), Kind(ListdirLister(InMemoryStorage())))


def test_decoded_listings_keep_their_limit_of_entries_least_recently_used_out() -> None:
    from storage_mixins.services.listing_codec import _DecodedListings

    memory = _DecodedListings(10)
    a, b, c = encoded_listing(4), encoded_listing(4), encoded_listing(4)
    kept_a, kept_b = memory.get(a), memory.get(b)
    assert memory.get(a) is kept_a  # used: b is now the least recently used
    kept_c = memory.get(c)  # 12 entries: b goes
    assert memory.get(a) is kept_a and memory.get(c) is kept_c
    assert memory.get(b) is not kept_b  # decoded again
    assert memory.get(a) is not kept_a  # …which made room by dropping a
    assert memory.get(("not", "a", "listing")) is None


def test_a_decoded_listing_over_the_limit_is_kept_alone() -> None:
    from storage_mixins.services.listing_codec import _DecodedListings

    memory = _DecodedListings(10)
    small, big = encoded_listing(4), encoded_listing(25)
    kept_small, kept_big = memory.get(small), memory.get(big)
    assert kept_big is not None and len(kept_big) == 25
    assert memory.get(big) is kept_big  # not decoded at each use
    assert memory.get(small) is not kept_small  # it made room for the big one
    assert memory.get(big) is not kept_big  # which made room for it in turn


def test_empty_decoded_listings_count_too() -> None:
    # Each listing of an empty or missing directory, made again at each expiry
    # under a new token, weighed nothing: none was dropped but to make room for
    # a listing with entries, and a process that lists such directories grew
    # without end.
    from storage_mixins.services.listing_codec import _DecodedListings

    memory = _DecodedListings(10)
    first = encoded_listing(0)
    kept = memory.get(first)
    for _ in range(50):
        memory.get(encoded_listing(0))
    assert memory.get(first) is not kept


def test_invalidation_reaches_another_process(
    redis_cache: str, s3: Any, production: Any, tmp_path: Path
) -> None:
    from django.conf import settings

    prefix = uuid.uuid4().hex
    stack = Caching(production, cache=redis_cache, key_prefix=prefix)
    assert not stack.exists("photos/from-another-process.jpg")  # from the listing
    assert stack.exists(PHOTOS[0])
    assert listings_sent(s3) == 1
    script = textwrap.dedent(
        f"""
        import os, sys
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True, CACHES={{"redis": {{
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": {settings.CACHES["redis"]["LOCATION"]!r}}}}})
        django.setup()
        from django.core.files.base import ContentFile
        from storages.backends.s3 import S3Storage
        from storage_mixins import Caching
        s3 = S3Storage(bucket_name={PRODUCTION_BUCKET!r}, endpoint_url={s3.server.endpoint_url!r},
                       access_key="testing", secret_key="testing", region_name="us-east-1",
                       addressing_style="path", file_overwrite=False, querystring_auth=False)
        stack = Caching(s3, cache="redis", key_prefix={prefix!r})
        assert not stack.exists("photos/from-another-process.jpg")  # the shared listing
        print(stack.save("photos/from-another-process.jpg", ContentFile(b"hello")))
        stack.delete({PHOTOS[0]!r})
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "photos/from-another-process.jpg"
    assert stack.exists("photos/from-another-process.jpg")
    assert stack.size("photos/from-another-process.jpg") == 5
    assert not stack.exists(PHOTOS[0])
    # The other process's first exists() used this process's listing; its writes
    # replaced the directory's version, and this process listed it once again.
    # The HEAD is the save's: a name is chosen on a fresh answer.
    assert listings_sent(s3) == 2 and others_sent(s3) == {"HEAD": 1, "PUT": 1, "DELETE": 1}


# -- listing refused: per file, and one warning ------------------------------------------


_ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message><RequestId>1</RequestId></Error>"
)


class RefusingS3Server(S3Server):
    """moto's server (this process's buckets), answering every ListObjectsV2 with
    S3's 403 AccessDenied: credentials without s3:ListBucket."""

    def _counting(self, app: Any) -> Any:
        def refusing(environ: dict[str, Any], start_response: Any) -> Any:
            if "list-type=2" in environ.get("QUERY_STRING", ""):
                start_response("403 Forbidden", [("Content-Type", "application/xml")])
                return [_ACCESS_DENIED]
            return app(environ, start_response)

        return super()._counting(refusing)


@pytest.fixture
def refusing(s3: Any) -> Any:
    server = RefusingS3Server()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("placement", ["whole stack", "one layer", "alone"])
def test_a_refused_listing_falls_back_to_per_file_and_warns_once(
    placement: str, s3: Any, refusing: Any, local: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for name in PHOTOS[:5]:
        s3.put(name, b"p")
    production = s3.storage(endpoint_url=refusing.endpoint_url)
    stack = {
        "whole stack": lambda: cached(Fallback(ReadOnly(production), local)),
        "one layer": lambda: Fallback(cached(ReadOnly(production)), local),
        "alone": lambda: cached(production),
    }[placement]()
    with caplog.at_level(logging.WARNING, logger="storage_mixins"):
        assert all(stack.exists(name) for name in PHOTOS[:5])
        assert not stack.exists("photos/none.jpg")
        assert [stack.size(name) for name in PHOTOS[:2]] == [1, 1]
        with stack.open(PHOTOS[3]) as handle:
            assert handle.read() == b"p"
        if placement != "alone":
            assert stack.exists(UPLOADS[0])
    warnings = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(warnings) == 1
    assert "AccessDenied" in warnings[0].getMessage()
    assert "s3:ListBucket" in warnings[0].getMessage()
    methods = [r.method for r in refusing.requests()]
    assert methods.count("GET") >= 1  # the one refused listing (and the read)
    lists = [r for r in refusing.requests() if "list-type=2" in r.query]
    assert len(lists) == 1  # refused once; never asked again in this process
    assert "off in this process" in describe(stack)


def test_a_listing_that_fails_otherwise_never_fails_a_read(
    s3: Any, production: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from storage_mixins.backends.s3.listing import S3Lister

    def broken(self: Any, directory: str = "", *, limit: Any = None) -> Any:
        raise ValueError("a parser choked")

    monkeypatch.setattr(S3Lister, "list", broken)
    stack = cached(production)
    with caplog.at_level(logging.WARNING, logger="storage_mixins"):
        assert stack.exists(PHOTOS[0]) and stack.exists(PHOTOS[1])
    assert [r.getMessage().count("a parser choked") for r in caplog.records] == [1]
    assert others_sent(s3) == {"HEAD": 2}


def test_an_unreachable_layer_pauses_its_listings_and_trips_its_breaker(
    s3: Any, local: Any
) -> None:
    from botocore.config import Config

    from tests.conftest import free_port

    config = Config(connect_timeout=1, retries={"mode": "standard", "total_max_attempts": 1})
    down = s3.storage(endpoint_url=f"http://127.0.0.1:{free_port()}", client_config=config)
    stack = cached(Fallback(ReadOnly(down), local, on_error="skip", failures=2))
    assert stack.exists(UPLOADS[0]) and not stack.exists("photos/x.jpg")
    assert "paused: unreachable" in describe(stack)
    # The listing and the per-file read both failed: two in a row, the breaker opens.
    states = dict(stack.__wrapped__.breaker_states())
    assert states[stack.__wrapped__.layers[0]].startswith("open")


def test_a_backend_that_overrides_a_read_answers_it_itself(s3: Any) -> None:
    from storages.backends.s3 import S3Storage

    class AlwaysNew(S3Storage):
        """The pre-file_overwrite recipe: nothing exists, so every save overwrites."""

        def exists(self, name: str) -> bool:
            return False

    s3.put("photos/a.jpg", b"abc")
    options = s3.settings()["OPTIONS"]
    stack = cached(AlwaysNew(**options))
    assert not stack.exists("photos/a.jpg")  # its own answer, not the listing's
    assert stack.size("photos/a.jpg") == 3  # size is S3Storage's own: from the listing
    assert listings_sent(s3) == 1 and others_sent(s3) == {}


def test_a_layer_behind_a_wrapper_of_its_own_is_asked_per_file(s3: Any, local: Any) -> None:
    from storage_mixins import StorageWrapper

    class Hiding(StorageWrapper):
        """A wrapper that changes what exists() means."""

        def exists(self, name: str) -> bool:
            return not name.endswith(".secret") and self.__wrapped__.exists(name)

    s3.put("photos/a.secret", b"s")
    stack = cached(Fallback(Hiding(s3.storage()), local), listings=True)
    assert not stack.exists("photos/a.secret")
    assert listings_sent(s3) == 0
    assert "[0]" not in describe(stack).splitlines()[0]


def test_time_answers_are_identical_to_the_backend_s(s3: Any, settings: Any) -> None:
    s3.put("t/a", b"a")
    raw = s3.storage()
    for use_tz in (True, False):
        settings.USE_TZ = use_tz
        stack = cached(s3.storage())
        assert stack.exists("t/a")
        assert stack.get_modified_time("t/a") == raw.get_modified_time("t/a")
        assert isinstance(stack.get_modified_time("t/a"), datetime.datetime)
