"""Hostile review of the single flight's takeover (commit 35dbef1): a waiter
that has watched one claim for TAKEOVER_SECONDS takes it over. Each case is
simulated in one process on a LocMemCache (tests/test_fleet.py runs the
fleet on redis-server): "another process" is a claim made by hand, a claim
"expires" when the test deletes it."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.cache.backends.base import memcache_key_warnings
from django.core.files.storage import FileSystemStorage

from storage_mixins import Caching
from storage_mixins.services import single_flight
from storage_mixins.services.metadata_cache import MetadataCache
from storage_mixins.services.single_flight import GAVE_UP, one_in_the_fleet

LISTING = "listing:0"


@pytest.fixture
def metadata() -> MetadataCache:
    return MetadataCache("default", uuid.uuid4().hex, 60)


def missed() -> tuple[bool, Any]:
    return False, None


def never() -> Any:
    raise AssertionError("computed although another process was computing")


def test_a_late_waiter_waits_for_the_taker_once_the_dead_claim_expires(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A holder died; a waiter took over and lists (slowly: a large directory).
    # Meanwhile the dead claim expires and another process misses the same
    # listing: it must wait for the taker, as it waited for the one who
    # claimed the expired claim before takeovers, not list a third time.
    monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 0.0)
    dead = metadata.claim("k", 60)
    assert dead is not None
    late: list[Any] = []

    def taker_lists() -> str:
        if metadata.holder("k") == dead:
            metadata.cache.delete("k")  # the dead holder's claim expires
        monkeypatch.setattr(single_flight, "WAIT_SECONDS", 0.05)
        monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 60)
        late.append(one_in_the_fleet(metadata, "k", cached=missed, compute=never))
        return "the taker's"

    assert one_in_the_fleet(metadata, "k", cached=missed, compute=taker_lists) == "the taker's"
    assert late == [GAVE_UP]  # it waited (the taker never stored its listing here)


def test_successive_takeovers_keep_claim_keys_short(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every holder dies in turn, another waiter taking each over first: the
    # keys this waiter claims must not grow with the takeovers (memcached
    # refuses keys over 250 characters; a refused claim lets everyone list).
    monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 0.0)
    monkeypatch.setattr(single_flight, "WAIT_SECONDS", 0.5)
    _hit, seen = metadata.get(LISTING, "photos")
    reservation = metadata.reserve(LISTING, "photos", seen)
    assert reservation is not None
    key = f"{reservation.key}:{reservation.token}"  # as listing_cache names it
    assert metadata.claim(key, 60) is not None
    longest = len(key) + len(":after:") + len(metadata.claim("another", 60) or "") + 8
    claimed: list[str] = []
    add = metadata.cache.add

    def another_waiter_first(name: str, value: Any, timeout: Any = None) -> bool:
        claimed.append(name)
        if len(claimed) < 12 and name != key:  # another waiter takes over, and dies
            taker = f"{uuid.uuid4().hex[:16]}{len(claimed)}"
            add(name, taker, 60)
            metadata.cache.set(key, taker, 60)
        return bool(add(name, value, timeout))

    monkeypatch.setattr(metadata.cache, "add", another_waiter_first)
    assert one_in_the_fleet(metadata, key, cached=missed, compute=lambda: "mine") == "mine"
    assert len(claimed) > 4  # several takeovers
    made = [metadata.cache.make_key(name) for name in claimed]
    assert [name for name in made if len(name) > longest or list(memcache_key_warnings(name))] == []


def test_a_holder_token_that_is_no_str_is_waited_for_until_it_goes(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache whose get gives bytes (a raw serializer): nobody is taken over,
    # the claim is waited for until it expires, as before takeovers.
    monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 0.0)
    metadata.cache.set("k", b"holder", 60)
    polls = 0

    def cached() -> tuple[bool, Any]:
        nonlocal polls
        polls += 1
        if polls == 5:
            metadata.cache.delete("k")  # the claim expires
        return False, None

    assert metadata.holder("k") is None
    assert one_in_the_fleet(metadata, "k", cached=cached, compute=lambda: "mine") == "mine"
    assert polls == 6  # five polls while claimed, one when claiming


def test_a_cache_whose_get_fails_never_blocks_past_the_wait(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 0.0)
    monkeypatch.setattr(single_flight, "WAIT_SECONDS", 0.05)
    assert metadata.claim("k", 60) is not None  # held by another process

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("the cache went away")

    monkeypatch.setattr(metadata.cache, "get", broken)
    monkeypatch.setattr(metadata.cache, "get_many", broken)
    # No holder can be watched: no takeover; the wait is bounded.
    assert one_in_the_fleet(metadata, "k", cached=missed, compute=never) is GAVE_UP


def test_neither_listing_of_a_taken_over_claim_outlives_a_write(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The holder is slow, not dead: it lists, a waiter takes over and lists
    # too, a write returns, then both store what they listed before it.
    monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 0.0)
    _hit, seen = metadata.get(LISTING, "photos")
    holders, takers = (metadata.reserve(LISTING, "photos", seen) for _ in range(2))
    assert holders is not None and takers is not None
    key = f"{holders.key}:{holders.token}"
    assert metadata.claim(key, 60) is not None  # the slow holder lists

    def taker_lists() -> str:
        metadata.invalidate("photos/new.jpg")  # a write returns meanwhile
        metadata.add(takers, "taker's listing, from before the write")
        return "taker's listing"

    cached = lambda: metadata.get(LISTING, "photos")  # noqa: E731
    assert one_in_the_fleet(metadata, key, cached=cached, compute=taker_lists)
    metadata.add(holders, "holder's listing, from before the write")
    assert metadata.get(LISTING, "photos")[0] is False


def test_a_download_slower_than_a_takeover_is_made_once(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Local copies are single-flight per process (a lock), not by claims in the
    # cache: threads waiting for a download, however slow, never take it over.
    monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 0.0)
    s3.put("big.bin", b"x" * 100_000)
    cached = Caching(s3.storage(), contents=FileSystemStorage(location=tmp_path / "copies"))
    start = threading.Barrier(8)
    read: list[bytes] = []

    def reader() -> None:
        start.wait()
        with cached.open("big.bin") as file:
            read.append(file.read())

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read == [b"x" * 100_000] * 8
    assert s3.server.counts()["GET"] == 1
