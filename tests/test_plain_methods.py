"""Wrappers are plain classes with plain methods: a subclass, a patch, a
recording or a pickle sees them as it sees any class's.

(Until 0.1.0 the hottest methods were bound on each instance, with a
metaclass keeping the bindings in line with the class: these tests pinned
that machinery down, and now pin down that nothing of it is needed.)
"""

from __future__ import annotations

import abc
import copy
import gc
import pickle
import weakref
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage

from storage_mixins import Caching, Fallback, Logging, ReadOnly, StorageWrapper
from storage_mixins.observability import instrumentation
from storage_mixins.observability.recording import record


@pytest.fixture
def stack(fs: FileSystemStorage, mem: InMemoryStorage) -> Fallback:
    fs.save("local.txt", ContentFile(b"local"))
    mem.save("production.txt", ContentFile(b"production"))
    return Fallback(fs, ReadOnly(mem))


@pytest.fixture(autouse=True)
def _nothing_left_installed() -> Iterator[None]:
    yield
    assert not instrumentation.is_installed(Fallback, "exists")


def test_a_subclass_that_overrides_the_method_keeps_it(fs: FileSystemStorage) -> None:
    class Everything(Fallback):
        def exists(self, name: str) -> bool:
            return True

    assert Everything(fs).exists("missing.txt") is True
    with record():
        assert Everything(fs).exists("missing.txt") is True


def test_a_wrapper_combines_with_an_abc_without_a_combined_metaclass(fs: Any) -> None:
    class Audited(abc.ABC):  # noqa: B024 - a base with a metaclass of its own is the point
        def audit(self) -> str:
            return "audited"

    class AuditedReadOnly(ReadOnly, Audited):
        pass

    assert AuditedReadOnly(fs).audit() == "audited"


def test_a_recording_sees_every_call(stack: Fallback) -> None:
    cached = Caching(stack)
    with record(detail=True) as recording:
        built_inside = Fallback(*stack.layers)
        stack.exists("production.txt")
        cached.exists("local.txt")
        built_inside.exists("missing.txt")
    assert [(call.method, call.outcome) for call in recording.calls] == [
        ("exists", "found"),
        ("exists", "found"),
        ("exists", "missing"),
    ]
    assert recording.calls[0].answered_by() == "[1] ReadOnly(InMemoryStorage())"


def test_nested_recordings_uninstall_only_after_the_last(stack: Fallback) -> None:
    with record():
        with record():
            pass
        assert instrumentation.is_installed(Fallback, "exists")
    assert not instrumentation.is_installed(Fallback, "exists")


def test_a_subclass_made_before_a_recording_is_recorded(fs: FileSystemStorage) -> None:
    class Mine(Caching):
        pass

    with record(detail=True) as recording:
        Mine(fs).exists("a.txt")
    assert [call.method for call in recording.calls] == ["exists"]


def test_no_wrapper_is_kept_alive(fs: FileSystemStorage, mem: InMemoryStorage) -> None:
    wrappers = [Fallback(fs, ReadOnly(mem)), Caching(fs), ReadOnly(mem), Logging(fs)]
    references = [weakref.ref(wrapper) for wrapper in wrappers]
    del wrappers
    gc.collect()
    assert [reference() for reference in references] == [None] * len(references)


def test_record_works_after_an_instance_patch_of_exists(stack: Fallback) -> None:
    with mock.patch.object(stack, "exists", return_value=True):
        assert stack.exists("missing.txt") is True
    assert stack.exists("missing.txt") is False
    with record() as recorded:
        stack.exists("local.txt")
    assert recorded.call_count == 1


def test_an_exists_set_on_the_stack_survives_a_recording(
    stack: Fallback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "exists", lambda name: "patched")
    with record():
        inside = stack.exists("local.txt")
    assert (inside, stack.exists("local.txt")) == ("patched", "patched")


def test_patching_the_class_method_reaches_instances(stack: Fallback, fs: Any) -> None:
    with mock.patch.object(Fallback, "exists", return_value="patched"):
        assert (stack.exists("local.txt"), Fallback(fs).exists("x")) == ("patched", "patched")


def test_the_exists_method_of_a_wrapper_pickles(fs: FileSystemStorage) -> None:
    fs.save("a.txt", ContentFile(b"a"))
    for wrapper in (Caching(fs), Fallback(fs)):
        assert pickle.loads(pickle.dumps(wrapper.exists))("a.txt") is True
        assert copy.deepcopy(wrapper.exists)("a.txt") is True


def test_wrappers_have_no_metaclass_of_their_own() -> None:
    proxy_type = type(StorageWrapper.__mro__[1])  # wrapt's proxy type's
    for cls in (StorageWrapper, ReadOnly, Logging, Caching, Fallback):
        assert type(cls) is proxy_type
