"""Property: a stack answers the same with Caching as without it, for any sequence
of reads and writes made through it: in both placements of Caching (over the
stack, inside it) and both orders of the layers, with listings, on a cache
that evicts (a tiny LocMemCache), one that fails mid-write, and Redis."""

from __future__ import annotations

import itertools
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage_mixins import Caching, Fallback, ReadOnly
from tests import caches as test_caches

NAMES = ["a.txt", "b.txt", "seed.txt", "d/c.txt", "d/e/f.txt", "d/seed.txt", "n/m/g.txt"]
DIRECTORIES = ["", "d", "d/e", "nowhere", "n", "n/m"]  # n/m: made by the first write into it
SEED = {"seed.txt": b"production seed", "d/seed.txt": b"production d", "d/e/old.txt": b"old"}

data = st.binary(max_size=64)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("save"), st.sampled_from(NAMES), data),
        st.tuples(st.just("write"), st.sampled_from(NAMES), data),
        st.tuples(st.just("delete"), st.sampled_from(NAMES)),
        st.tuples(st.just("exists"), st.sampled_from(NAMES + DIRECTORIES)),
        st.tuples(st.just("size"), st.sampled_from(NAMES)),
        st.tuples(st.just("read"), st.sampled_from(NAMES)),
        st.tuples(st.just("listdir"), st.sampled_from(DIRECTORIES)),
        st.tuples(st.just("url"), st.sampled_from(NAMES)),
    ),
    min_size=1,
    max_size=25,
)


def apply(stack: Any, operation: tuple[Any, ...]) -> Any:
    """Run one operation; return its answer, or the type of error it raised."""
    kind, target, *payload = operation
    try:
        if kind == "save":
            return stack.save(target, ContentFile(payload[0]))
        if kind == "write":
            with stack.open(target, "wb") as handle:
                handle.write(payload[0])
            return None
        if kind == "delete":
            return stack.delete(target)
        if kind == "read":
            with stack.open(target, "rb") as handle:
                return handle.read()
        if kind == "listdir":
            directories, files = stack.listdir(target)
            return sorted(directories), sorted(files)
        if kind == "url":  # which layer, and which name: the stacks' roots differ
            url = stack.url(target)
            return ("local" if url.startswith("/media/") else "s3", url.rsplit("/", 1)[-1])
        return getattr(stack, kind)(target)
    except Exception as exc:  # noqa: BLE001 - the type is the answer compared
        return type(exc).__name__


def assert_same_answers(
    plain: Any, cached: Any, operations: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each operation, applied to both stacks in turn, answers the same in both."""
    # Alternative names are random; make both stacks draw the same ones.
    counter = itertools.count()
    monkeypatch.setattr(
        "django.core.files.storage.base.get_random_string", lambda length: f"{next(counter):07d}"
    )
    for step, operation in enumerate(operations):
        answers = []
        for stack in (plain, cached):
            counter = itertools.count(step * 1000)
            answers.append(apply(stack, operation))
        assert answers[0] == answers[1], (step, operation)


def layers(s3: Any, root: Path) -> tuple[Any, FileSystemStorage]:
    """A fresh, seeded production bucket, and a fresh local directory."""
    bucket = f"p-{uuid.uuid4().hex[:12]}"
    production = s3.storage(bucket, querystring_auth=False)
    for key, body in SEED.items():
        s3.put(key, body, bucket=bucket)
    local = FileSystemStorage(location=tempfile.mkdtemp(dir=root), base_url="/media/")
    (Path(local.location) / "d" / "e").mkdir(parents=True)  # write-mode open needs its dirs
    return production, local


def environment(s3: Any, root: Path) -> Any:
    """``Fallback(fs, ReadOnly(s3))`` over fresh layers."""
    production, local = layers(s3, root)
    return Fallback(local, ReadOnly(production))


@pytest.mark.parametrize("cache_alias", ["locmem", "redis"])
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=operations)
def test_caching_changes_no_answer(
    operations: list[tuple[Any, ...]],
    cache_alias: str,
    s3: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alias = request.getfixturevalue("redis_cache") if cache_alias == "redis" else "default"
    plain = environment(s3, tmp_path)
    cached = Caching(environment(s3, tmp_path), cache=alias, key_prefix=uuid.uuid4().hex)
    assert_same_answers(plain, cached, operations, monkeypatch)


# Each shape: (production, local, Caching's options) -> the stack, and the same
# stack without Caching.
SHAPES = {
    "Caching(Fallback(ReadOnly(s3), fs))": (
        lambda s3, fs, **o: Caching(Fallback(ReadOnly(s3), fs), **o),
        lambda s3, fs: Fallback(ReadOnly(s3), fs),
    ),
    "Caching(Fallback(fs, ReadOnly(s3)))": (
        lambda s3, fs, **o: Caching(Fallback(fs, ReadOnly(s3)), **o),
        lambda s3, fs: Fallback(fs, ReadOnly(s3)),
    ),
    "Fallback(Caching(ReadOnly(s3)), fs)": (
        lambda s3, fs, **o: Fallback(Caching(ReadOnly(s3), **o), fs),
        lambda s3, fs: Fallback(ReadOnly(s3), fs),
    ),
    "Fallback(fs, Caching(ReadOnly(s3)))": (
        lambda s3, fs, **o: Fallback(fs, Caching(ReadOnly(s3), **o)),
        lambda s3, fs: Fallback(fs, ReadOnly(s3)),
    ),
}
CACHES = {
    "tiny": {  # culls a third of its entries past 12: evictions all the time
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 12, "CULL_FREQUENCY": 3},
    },
    "flaky": {"BACKEND": "tests.caches.FlakyCache"},  # fails the calls drawn
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}


@pytest.mark.parametrize("cache_name", [*CACHES, "redis"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPES.keys())
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operations=operations,
    failing=st.sets(st.integers(0, 400), max_size=12),  # which calls to the flaky cache fail
    listings=st.sampled_from([True, "auto"]),
)
def test_no_placement_order_or_cache_changes_an_answer(
    shape: str,
    cache_name: str,
    operations: list[tuple[Any, ...]],
    failing: set[int],
    listings: Any,
    s3: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    if cache_name == "redis":
        alias = request.getfixturevalue("redis_cache")
    else:
        alias = f"{cache_name}-{uuid.uuid4().hex}"
        settings.CACHES = {**settings.CACHES, alias: {**CACHES[cache_name], "LOCATION": alias}}
    calls = itertools.count()

    def fault(operation: str) -> None:
        if next(calls) in failing:
            raise ConnectionError("the cache went away")

    monkeypatch.setattr(test_caches, "fault", fault)
    cached_stack, plain_stack = SHAPES[shape]
    plain = plain_stack(*layers(s3, tmp_path))
    options = {"cache": alias, "key_prefix": uuid.uuid4().hex, "listings": listings}
    cached = cached_stack(*layers(s3, tmp_path), **options)
    assert_same_answers(plain, cached, operations, monkeypatch)
