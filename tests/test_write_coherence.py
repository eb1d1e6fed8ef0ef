"""What a write through ``Caching`` changes in the cache (issue 25): only what the
write can change (the write layer's listings and the stack's own answers,
never a read-only layer's listings), in few keys, and never a stale answer,
whichever placement of ``Caching`` and order of the layers; in one process and
in two that share a redis-server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from storage_mixins import Caching, Fallback, ReadOnly
from storage_mixins.services.cache_keys import cache_key
from tests import caches as test_caches
from tests.seeding import put_many

PHOTOS = [f"photos/{index:03d}.jpg" for index in range(50)]


@pytest.fixture(autouse=True)
def _test_caches(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "counting": {
            "BACKEND": "tests.caches.CountingCache",
            "LOCATION": f"counting-{uuid.uuid4().hex}",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
        "flaky": {
            "BACKEND": "tests.caches.FlakyCache",
            "LOCATION": f"flaky-{uuid.uuid4().hex}",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
    }


@pytest.fixture
def production(s3: Any) -> Any:
    put_many(s3, ((name, b"\xff" * (100 + index)) for index, name in enumerate(PHOTOS)),
             "production-media")  # fmt: skip
    s3.server.clear_requests()
    return s3.storage(querystring_auth=False)


@pytest.fixture
def local(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "local", base_url="/local/")


def requests(s3: Any) -> list[tuple[str, str]]:
    return [(r.method, r.key or r.query) for r in s3.server.requests()]


# -- fewer keys a write -----------------------------------------------------------------


def test_a_save_writes_nine_keys(production: Any, local: Any) -> None:
    stack = Caching(Fallback(ReadOnly(production), local), cache="counting")
    assert not stack.exists("a/b/c.jpg")
    with test_caches.recording_writes() as written:
        assert stack.save("a/b/c.jpg", ContentFile(b"c")) == "a/b/c.jpg"
    # The versions of a/b/c.jpg, a/b, a and the root; the fences of their
    # exists(), and of the name's url(). It wrote 38 (every fact of each).
    namespace = stack._self_metadata.namespace
    paths = ("a/b/c.jpg", "a/b", "a", "")
    expected = {
        cache_key(namespace, fact, path) for fact in ("version", "exists") for path in paths
    }
    expected.add(cache_key(namespace, "url", "a/b/c.jpg"))
    assert sorted(written) == sorted(expected)


def test_a_save_of_a_deep_name_writes_two_keys_a_level(production: Any, local: Any) -> None:
    stack = Caching(Fallback(ReadOnly(production), local), cache="counting")
    with test_caches.recording_writes() as written:
        stack.save("a/b/c/d/e/f.jpg", ContentFile(b"f"))
    assert len(written) == 2 * 7 + 1


# -- fence what a write can change -------------------------------------------------------


ORDERS = {
    "Caching(Fallback(ReadOnly(s3), fs))": lambda s3, fs, **o: Caching(
        Fallback(ReadOnly(s3), fs), **o
    ),
    "Caching(Fallback(fs, ReadOnly(s3)))": lambda s3, fs, **o: Caching(
        Fallback(fs, ReadOnly(s3)), **o
    ),
}


@pytest.mark.parametrize("listings", ["auto", True])
@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_a_write_keeps_production_s_listing(
    order: Any, listings: Any, s3: Any, production: Any, local: Any
) -> None:
    stack = order(production, local, listings=listings, key_prefix=uuid.uuid4().hex)
    assert stack.size(PHOTOS[0]) == 100  # production's photos/ listed
    stack.save("photos/new.jpg", ContentFile(b"new"))
    stack.delete("photos/new.jpg")
    stack.save("photos/other.jpg", ContentFile(b"other"))
    s3.server.clear_requests()
    # Production's listing still answers: no write through the stack changes it.
    assert [stack.size(name) for name in PHOTOS[1:]] == [100 + i for i in range(1, 50)]
    assert stack.exists("photos/other.jpg") and not stack.exists("photos/new.jpg")
    assert stack.size("photos/other.jpg") == 5
    assert requests(s3) == []


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_the_directories_a_save_makes_exist_at_once(
    order: Any, production: Any, local: Any
) -> None:
    stack = order(production, local, listings=True)
    assert not stack.exists("n") and not stack.exists("n/m")
    assert stack.listdir("") == (["photos"], [])
    stack.save("n/m/g.txt", ContentFile(b"g"))
    assert stack.exists("n") and stack.exists("n/m")  # directories, on the local disk
    assert sorted(stack.listdir("")[0]) == ["n", "photos"] and stack.listdir("n") == (["m"], [])


def test_invalidate_drops_every_layer_s_listings(s3: Any, production: Any, local: Any) -> None:
    # Deliberate: invalidate() is for writes made around the wrapper, which may
    # have changed production.
    stack = Caching(Fallback(ReadOnly(production), local), key_prefix=uuid.uuid4().hex)
    assert not stack.exists("photos/late.jpg")
    s3.put("photos/late.jpg", b"late")
    stack.invalidate("photos/late.jpg")
    s3.server.clear_requests()
    assert stack.exists("photos/late.jpg") and stack.size(PHOTOS[1]) == 101
    assert [method for method, _ in requests(s3)] == ["GET"]  # one listing


def test_a_listing_of_the_write_layer_made_before_a_write_is_never_served(
    production: Any, local: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reader lists the local layer, a write lands before the listing is
    # stored: the listing carries the version the write replaced.
    from storage_mixins.backends.local import FileSystemLister

    stack = Caching(Fallback(ReadOnly(production), local), listings=True)
    writer = Caching(Fallback(ReadOnly(production), local), listings=True)
    listed = FileSystemLister.list

    def list_then_write(self: Any, directory: str, **options: Any) -> Any:
        listing = listed(self, directory, **options)
        if directory == "uploads":
            monkeypatch.setattr(FileSystemLister, "list", listed)
            writer.save("uploads/new.jpg", ContentFile(b"new"))
        return listing

    local.save("uploads/old.jpg", ContentFile(b"old"))
    monkeypatch.setattr(FileSystemLister, "list", list_then_write)
    assert not stack.exists("uploads/new.jpg")  # computed before the write
    assert stack.exists("uploads/new.jpg")
    assert sorted(stack.listdir("uploads")[1]) == ["new.jpg", "old.jpg"]


class _SizeDuringWrite(FileSystemStorage):
    """A storage whose next ``size()`` answers, then lets ``during`` run."""

    during: Any = None

    def size(self, name: str) -> int:
        size = super().size(name)
        during, self.during = self.during, None
        if during is not None:
            during()
        return size


@pytest.mark.parametrize("then", ["nothing", "clear", "evict the version"])
def test_a_labelled_answer_computed_before_a_write_is_never_served(
    tmp_path: Path, then: str
) -> None:
    raw = _SizeDuringWrite(location=tmp_path)
    raw.save("a.txt", ContentFile(b"a"))
    reader = Caching(raw, key_prefix="shared")
    writer = Caching(FileSystemStorage(location=tmp_path), key_prefix="shared")

    def write() -> None:
        writer.delete("a.txt")
        writer.save("a.txt", ContentFile(b"longer"))
        if then == "clear":
            caches["default"].clear()
        elif then == "evict the version":
            caches["default"].delete(cache_key("shared", "version", "a.txt"))

    raw.during = write
    assert reader.size("a.txt") == 1  # computed before the write
    assert reader.size("a.txt") == 6
    assert writer.size("a.txt") == 6


# -- a cache that fails mid-write -----------------------------------------------------------


@pytest.mark.parametrize("failing", ["versions", "fences", "both"])
def test_a_write_whose_invalidation_failed_part_way_is_replayed(
    failing: str, production: Any, local: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = Caching(Fallback(ReadOnly(production), local), cache="flaky", listings=True)
    plain = Fallback(ReadOnly(production), local)
    names = ["photos/new.jpg", "photos", PHOTOS[0], ""]
    for name in names:
        stack.exists(name), stack.listdir("photos")
    calls = {"set": 0}

    def fault(operation: str) -> None:
        # The versions are the first keys set (4), the fences the next (5).
        if operation == "set":
            calls["set"] += 1
            number = calls["set"]
            if (failing in ("versions", "both") and number == 2) or (
                failing in ("fences", "both") and number == 6
            ):
                raise ConnectionError("the cache went away")

    monkeypatch.setattr(test_caches, "fault", fault)
    stack.save("photos/new.jpg", ContentFile(b"new"))
    monkeypatch.setattr(test_caches, "fault", lambda operation: None)
    for name in names:
        assert stack.exists(name) == plain.exists(name), name
    assert stack.listdir("photos") == plain.listdir("photos")
    assert stack.size("photos/new.jpg") == 3
    assert stack._self_metadata.flush_pending() == 0


# -- two processes, one redis-server: both placements, both orders ---------------------------


PLACEMENTS = {
    "Caching(Fallback(ReadOnly(s3), fs))": "Caching(Fallback(ReadOnly(s3), fs), **options)",
    "Caching(Fallback(fs, ReadOnly(s3)))": "Caching(Fallback(fs, ReadOnly(s3)), **options)",
    "Fallback(Caching(ReadOnly(s3)), fs)": "Fallback(Caching(ReadOnly(s3), **options), fs)",
    "Fallback(fs, Caching(ReadOnly(s3)))": "Fallback(fs, Caching(ReadOnly(s3), **options))",
}
READS = ("exists", "size", "url", "listdir")


def _ask(stack: Any, method: str, name: str) -> Any:
    try:
        return getattr(stack, method)(name)
    except Exception as exc:  # noqa: BLE001 - the type is the answer compared
        return type(exc).__name__


@pytest.mark.parametrize("listings", ["auto", True])
@pytest.mark.parametrize("placement", PLACEMENTS.values(), ids=PLACEMENTS.keys())
def test_writes_in_another_process_are_seen_at_once(
    placement: str, listings: Any, redis_cache: str, s3: Any, production: Any, local: Any
) -> None:
    from django.conf import settings

    local.save("photos/local.jpg", ContentFile(b"local"))
    prefix = uuid.uuid4().hex
    build = f"""
        s3 = S3Storage(bucket_name="production-media", endpoint_url={s3.server.endpoint_url!r},
                       access_key="testing", secret_key="testing", region_name="us-east-1",
                       addressing_style="path", file_overwrite=False, querystring_auth=False)
        fs = FileSystemStorage(location={local.location!r}, base_url="/local/")
        options = dict(cache="redis", key_prefix={prefix!r}, listings={listings!r})
        stack = {placement}
    """
    namespace: dict[str, Any] = {}
    exec(
        "from storages.backends.s3 import S3Storage\n"
        "from django.core.files.storage import FileSystemStorage\n"
        "from storage_mixins import Caching, Fallback, ReadOnly\n" + textwrap.dedent(build),
        namespace,
    )
    stack = namespace["stack"]
    plain = Fallback(ReadOnly(production), local)
    if "Fallback(fs" in placement:
        plain = Fallback(local, ReadOnly(production))
    names = ["photos/new.jpg", "photos/local.jpg", PHOTOS[0], PHOTOS[1], "photos", ""]
    for method in READS:  # warm: every answer cached
        for name in names:
            _ask(stack, method, name)
    script = (
        textwrap.dedent(
            f"""
        import os
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        import django
        from django.conf import settings
        settings.configure(USE_TZ=True, CACHES={{"redis": {{
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": {settings.CACHES["redis"]["LOCATION"]!r}}}}})
        django.setup()
        from django.core.files.base import ContentFile
        from django.core.files.storage import FileSystemStorage
        from storages.backends.s3 import S3Storage
        from storage_mixins import Caching, Fallback, ReadOnly
        """
        )
        + textwrap.dedent(build)
        + textwrap.dedent(
            """
        print(stack.save("photos/new.jpg", ContentFile(b"new!")))
        stack.delete("photos/local.jpg")
        with stack.open("photos/local.jpg", "wb") as handle:
            handle.write(b"rewritten")
        """
        )
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "photos/new.jpg"
    for method in READS:
        for name in names:
            assert _ask(stack, method, name) == _ask(plain, method, name), (method, name)
