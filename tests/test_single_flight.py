"""One process of the fleet computes, the others wait (services.single_flight):
the protocol on a LocMemCache, in one process (tests/test_fleet.py runs it
across eight processes on redis-server)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from storage_mixins.services import single_flight
from storage_mixins.services.metadata_cache import MetadataCache
from storage_mixins.services.single_flight import GAVE_UP, one_in_the_fleet


@pytest.fixture
def metadata() -> MetadataCache:
    return MetadataCache("default", uuid.uuid4().hex, 60)


def never(*_args: Any) -> Any:
    raise AssertionError("computed although another process's answer was there")


def test_the_first_caller_computes(metadata: MetadataCache) -> None:
    assert one_in_the_fleet(metadata, "k", cached=lambda: (False, None), compute=lambda: 1) == 1
    assert metadata.claim("k", 1) is not None  # released after computing


def test_a_claim_freed_by_a_holder_that_stored_its_answer_is_not_computed_again(
    metadata: MetadataCache,
) -> None:
    # The caller missed; meanwhile another process computed, stored and released.
    answer = one_in_the_fleet(metadata, "k", cached=lambda: (True, "listed"), compute=never)
    assert answer == "listed"


def test_a_held_claim_makes_the_caller_wait_for_the_holder_s_answer(
    metadata: MetadataCache,
) -> None:
    assert metadata.claim("k", 60) is not None  # another process lists
    polls = iter([(False, None), (False, None), (True, "listed")])
    assert one_in_the_fleet(metadata, "k", cached=lambda: next(polls), compute=never) == "listed"


def test_a_holder_that_never_answers_is_given_up_on(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(single_flight, "WAIT_SECONDS", 0.02)
    assert metadata.claim("k", 60) is not None  # a holder that hangs
    assert one_in_the_fleet(metadata, "k", cached=lambda: (False, None), compute=never) is GAVE_UP


def test_a_claim_that_expires_is_taken_by_a_waiter(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = metadata.claim("k", 60)
    assert holder is not None
    polls = 0

    def cached() -> tuple[bool, Any]:
        nonlocal polls
        polls += 1
        if polls == 2:  # the holder died: its claim expires
            metadata.cache.delete("k")
        return False, None

    assert one_in_the_fleet(metadata, "k", cached=cached, compute=lambda: "mine") == "mine"
    metadata.release("k", holder)  # too late: another caller's claim is not its to drop


def test_a_cache_that_fails_lets_every_process_compute(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("the cache went away")

    monkeypatch.setattr(metadata.cache, "add", broken)
    monkeypatch.setattr(metadata.cache, "get", broken)
    assert one_in_the_fleet(metadata, "k", cached=lambda: (False, None), compute=lambda: 1) == 1


def test_a_claim_held_too_long_is_taken_over_before_it_expires(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A holder killed while it lists keeps its claim until the cache expires
    # it; the waiters take over once they have watched it long enough.
    monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 0.02)
    dead = metadata.claim("k", 60)
    assert dead is not None

    def compute() -> str:
        # The claim is the taker's now: whoever misses next waits for it.
        assert metadata.holder("k") not in (None, dead)
        return "mine"

    assert one_in_the_fleet(metadata, "k", cached=lambda: (False, None), compute=compute) == "mine"
    assert metadata.holder("k") is None  # released by the taker


def test_one_waiter_takes_over_and_the_others_wait_for_its_answer(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 0.0)
    dead = metadata.claim("k", 60)
    assert dead is not None
    successor = single_flight.successor("k", dead)
    assert metadata.claim(successor, 60) is not None  # another waiter takes over, and lists
    tries: list[tuple[str, str | None]] = []
    claim = metadata.claim

    def recorded(key: str, seconds: int) -> str | None:
        tries.append((key, claim(key, seconds)))
        return tries[-1][1]

    monkeypatch.setattr(metadata, "claim", recorded)
    polls = 0

    def cached() -> tuple[bool, Any]:
        nonlocal polls
        polls += 1
        if polls == 3:
            metadata.cache.set("k", "taker", 60)  # the taker's claim lands
        return (True, "listed") if polls == 4 else (False, None)

    assert one_in_the_fleet(metadata, "k", cached=cached, compute=never) == "listed"
    # It tried to take over, lost, and waited for the taker, watched afresh.
    assert (successor, None) in tries


def test_a_claim_that_changes_hands_is_watched_afresh(
    metadata: MetadataCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new holder (the first released or expired, another caller claimed) is
    # given the full time before it is taken over.
    monkeypatch.setattr(single_flight, "TAKEOVER_SECONDS", 60)
    first = metadata.claim("k", 60)
    assert first is not None
    polls = 0

    def cached() -> tuple[bool, Any]:
        nonlocal polls
        polls += 1
        if polls == 3:
            metadata.cache.set("k", "another holder", 60)
        return (True, "listed") if polls == 6 else (False, None)

    assert one_in_the_fleet(metadata, "k", cached=cached, compute=never) == "listed"
