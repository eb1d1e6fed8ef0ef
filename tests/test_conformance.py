"""The storage contract over every stack shape, on every backend kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import Fallback, FallbackStorage, ReadOnly
from tests.conformance import ReadContract, ReadOnlyContract, Subject, WriteContract

Make = Callable[[str], Any]  # role name -> a new, empty raw backend


# Each shape builds a subject from raw backends; ``make("a")``, ``make("b")``…
# are distinct stores of one kind.
def raw(make: Make) -> Subject:
    a = make("a")
    return Subject(a, seed_into=a, writable=True)


def read_only(make: Make) -> Subject:
    a = make("a")
    return Subject(ReadOnly(a), seed_into=a, writable=False)


def fallback_single(make: Make) -> Subject:
    a = make("a")
    return Subject(Fallback(a), seed_into=a, writable=True)


def fallback_writable_first(make: Make) -> Subject:
    a, b = make("a"), make("b")
    return Subject(Fallback(a, ReadOnly(b)), seed_into=b, writable=True, protected=[b])


def fallback_read_only_first(make: Make) -> Subject:
    a, b = make("a"), make("b")
    return Subject(Fallback(ReadOnly(b), a), seed_into=b, writable=True, protected=[b])


def fallback_three_layers(make: Make) -> Subject:
    a, b, c = make("a"), make("b"), make("c")
    stack = Fallback(a, ReadOnly(b), ReadOnly(c))
    return Subject(stack, seed_into=c, writable=True, protected=[b, c])


def fallback_three_layers_writable_middle(make: Make) -> Subject:
    a, b, c = make("a"), make("b"), make("c")
    stack = Fallback(ReadOnly(b), a, ReadOnly(c))
    return Subject(stack, seed_into=c, writable=True, protected=[b, c])


def fallback_storage(make: Make) -> Subject:
    a, b = make("a"), make("b")
    return Subject(FallbackStorage([a, b]), seed_into=b, writable=True, protected=[b])


def read_only_fallback(make: Make) -> Subject:
    a, b = make("a"), make("b")
    stack = ReadOnly(Fallback(a, ReadOnly(b)))
    return Subject(stack, seed_into=b, writable=False, protected=[a, b])


def fallback_without_write_layer(make: Make) -> Subject:
    a, b = make("a"), make("b")
    stack = Fallback(ReadOnly(a), ReadOnly(b))
    return Subject(stack, seed_into=b, writable=False, protected=[a, b])


WRITABLE_SHAPES = [
    raw,
    fallback_single,
    fallback_writable_first,
    fallback_read_only_first,
    fallback_three_layers,
    fallback_three_layers_writable_middle,
    fallback_storage,
]
READ_ONLY_SHAPES = [read_only, read_only_fallback, fallback_without_write_layer]
KINDS = ["fs", "mem", "s3"]


# Stacks that mix backend kinds, as users build them.
def fs_over_s3(request: pytest.FixtureRequest, tmp_path: Any) -> Subject:
    s3 = request.getfixturevalue("s3").storage()
    fs = FileSystemStorage(location=tmp_path / "local")
    return Subject(Fallback(fs, ReadOnly(s3)), seed_into=s3, writable=True, protected=[s3])


def s3_over_fs(request: pytest.FixtureRequest, tmp_path: Any) -> Subject:
    s3 = request.getfixturevalue("s3").storage()
    fs = FileSystemStorage(location=tmp_path / "local")
    return Subject(Fallback(ReadOnly(s3), fs), seed_into=s3, writable=True, protected=[s3])


def mem_over_s3_over_fs(request: pytest.FixtureRequest, tmp_path: Any) -> Subject:
    s3 = request.getfixturevalue("s3").storage()
    fs = FileSystemStorage(location=tmp_path / "archive")
    stack = Fallback(InMemoryStorage(), ReadOnly(s3), ReadOnly(fs))
    return Subject(stack, seed_into=fs, writable=True, protected=[s3, fs])


def s3_writes_over_fs(request: pytest.FixtureRequest, tmp_path: Any) -> Subject:
    s3 = request.getfixturevalue("s3").storage("dev-media")
    fs = FileSystemStorage(location=tmp_path / "archive")
    return Subject(Fallback(s3, ReadOnly(fs)), seed_into=fs, writable=True, protected=[fs])


MIXED_WRITABLE = [fs_over_s3, s3_over_fs, mem_over_s3_over_fs, s3_writes_over_fs]


def _matrix(shapes: list[Any]) -> list[Any]:
    return [
        pytest.param((kind, shape), id=f"{shape.__name__}[{kind}]")
        for shape in shapes
        for kind in KINDS
    ]


class TestWritableStacks(ReadContract, WriteContract):
    @pytest.fixture(params=_matrix(WRITABLE_SHAPES))
    def subject(self, request: pytest.FixtureRequest, tmp_path: Any) -> Subject:
        kind, shape = request.param
        return shape(_maker(request, kind, tmp_path))


class TestReadOnlyStacks(ReadContract, ReadOnlyContract):
    @pytest.fixture(params=_matrix(READ_ONLY_SHAPES))
    def subject(self, request: pytest.FixtureRequest, tmp_path: Any) -> Subject:
        kind, shape = request.param
        return shape(_maker(request, kind, tmp_path))


class TestMixedStacks(ReadContract, WriteContract):
    @pytest.fixture(params=MIXED_WRITABLE, ids=lambda shape: shape.__name__)
    def subject(self, request: pytest.FixtureRequest, tmp_path: Any) -> Subject:
        return request.param(request, tmp_path)


def _maker(request: pytest.FixtureRequest, kind: str, tmp_path: Any) -> Make:
    def make(role: str) -> Any:
        if kind == "fs":
            return FileSystemStorage(location=tmp_path / role, base_url=f"/{role}/")
        if kind == "mem":
            return InMemoryStorage(base_url=f"https://{role}.example/")
        return request.getfixturevalue("s3").storage(f"bucket-{role}")

    return make
