"""The hottest methods, bound on the instance (``StorageWrapper._bind_hot_paths``).

``Fallback.exists`` and ``Caching.exists`` are answered by a function bound on
the wrapper's proxy, which holds the state it reads, so that a call costs one
attribute lookup instead of two (see ``benchmarks/hot_paths.py``). That is an
interception of its own: these tests pin down where it applies, that it answers
as the class's method does, and that it never hides a subclass's override or a
recording.
"""

from __future__ import annotations

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

from storage_mixins import Caching, Fallback, FallbackStorage, Logging, ReadOnly, recording
from storage_mixins.recording import record

# Wrapper class -> the methods it binds on its instances.
BOUND = {Fallback: {"exists"}, Caching: {"exists"}, ReadOnly: set(), Logging: set()}


def bound_names(wrapper: Any) -> set[str]:
    """The names answered from the proxy's own attributes, not its class."""
    return {
        name
        for name in ("exists", "open", "size", "url", "save", "delete")
        if hasattr(type(wrapper), name)  # else the wrapped storage's own (ReadOnly.exists)
        and getattr(getattr(wrapper, name), "__func__", None) is not getattr(type(wrapper), name)
    }


@pytest.fixture
def stack(fs: FileSystemStorage, mem: InMemoryStorage) -> Fallback:
    fs.save("local.txt", ContentFile(b"local"))
    mem.save("production.txt", ContentFile(b"production"))
    return Fallback(fs, ReadOnly(mem))


def wrappers(fs: FileSystemStorage, mem: InMemoryStorage) -> dict[type, Any]:
    return {
        Fallback: Fallback(fs, ReadOnly(mem)),
        Caching: Caching(fs),
        ReadOnly: ReadOnly(mem),
        Logging: Logging(fs),
    }


def test_the_inventory_of_bound_methods(fs: FileSystemStorage, mem: InMemoryStorage) -> None:
    for cls, wrapper in wrappers(fs, mem).items():
        assert bound_names(wrapper) == BOUND[cls], cls.__name__


def outcome(method: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "returned", method(*args)
    except Exception as exc:  # noqa: BLE001 - compared, type and message
        return "raised", (type(exc), str(exc))


def test_a_bound_method_answers_as_the_class_method(stack: Fallback) -> None:
    cached = Caching(stack)
    names: list[Any] = [
        "local.txt", "production.txt", "missing.txt", "", ".", "./local.txt", "a/../local.txt",
        "../local.txt", stack.layers[0].location, "/etc/passwd", b"local.txt", None,
    ]  # fmt: skip
    for wrapper in (stack, cached, cached):  # the second Caching pass hits the cache
        for name in names:
            bound = outcome(wrapper.exists, name)
            assert bound == outcome(type(wrapper).exists, wrapper, name), name
    assert outcome(stack.exists, stack.layers[0].location) == ("returned", True)


def test_a_subclass_that_overrides_the_method_keeps_it(fs: FileSystemStorage) -> None:
    class Everything(Fallback):
        def exists(self, name: str) -> bool:
            return True

    class Plain(Fallback):
        pass

    assert Everything(fs).exists("missing.txt") is True
    assert bound_names(Everything(fs)) == set()
    assert bound_names(Plain(fs)) == {"exists"}
    assert bound_names(FallbackStorage([fs])) == {"exists"}


def test_copies_bind_their_own_state(stack: Fallback, tmp_path: Any) -> None:
    for duplicate in (copy.copy(stack), copy.deepcopy(stack), pickle.loads(pickle.dumps(stack))):
        assert bound_names(duplicate) == {"exists"}
        assert duplicate.exists.__self__ is not stack.exists.__self__
        assert duplicate.exists.__self__ is duplicate._self_router


def test_a_recording_sees_calls_to_bound_methods(stack: Fallback) -> None:
    cached = Caching(stack)
    with record(detail=True) as recording:
        assert bound_names(stack) == bound_names(cached) == set()  # the class's, recorded
        built_inside = Fallback(*stack.layers)
        assert bound_names(built_inside) == set()
        stack.exists("production.txt")
        cached.exists("local.txt")
        built_inside.exists("missing.txt")
    assert [(call.method, call.outcome) for call in recording.calls] == [
        ("exists", "found"),
        ("exists", "found"),
        ("exists", "missing"),
    ]
    assert recording.calls[0].answered_by() == "[1] ReadOnly(InMemoryStorage())"
    for wrapper in (stack, cached, built_inside):  # bound again once nothing records
        assert bound_names(wrapper) == {"exists"}


def test_nested_recordings_bind_again_only_after_the_last(stack: Fallback) -> None:
    with record():
        with record():
            pass
        assert bound_names(stack) == set()
    assert bound_names(stack) == {"exists"}


def test_binding_keeps_no_wrapper_alive(fs: FileSystemStorage, mem: InMemoryStorage) -> None:
    references = [weakref.ref(wrapper) for wrapper in wrappers(fs, mem).values()]
    gc.collect()
    assert [reference() for reference in references] == [None] * len(references)
    with record():  # taking the bindings off finds nothing dead
        pass


# Found by a hostile review: a binding must never hide what a class or an
# instance is given later, and the bound method pickles as the wrapper's did.


@pytest.fixture(autouse=True)
def _recording_state_restored() -> Iterator[None]:
    """A failing test can leave a recording installed process-wide: undo it."""
    before = recording.active_blocks
    yield
    while recording.active_blocks > before:
        recording._uninstall()


def test_record_works_after_an_instance_patch_of_exists(stack: Fallback) -> None:
    with mock.patch.object(stack, "exists", return_value=True):
        assert stack.exists("missing.txt") is True
    assert stack.exists("missing.txt") is False
    try:
        with record() as recorded:
            stack.exists("local.txt")
    finally:
        blocks_left = recording.active_blocks
    assert blocks_left == 0
    assert recorded.call_count == 1


def test_an_exists_set_on_the_stack_survives_a_recording(
    stack: Fallback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "exists", lambda name: "patched")
    assert stack.exists("local.txt") == "patched"
    with record():
        inside = stack.exists("local.txt")
    after = stack.exists("local.txt")
    assert (inside, after) == ("patched", "patched")


def test_patching_the_class_method_reaches_instances(stack: Fallback, fs: Any) -> None:
    with mock.patch.object(Fallback, "exists", return_value="patched"):
        assert (stack.exists("local.txt"), Fallback(fs).exists("x")) == ("patched", "patched")


def test_the_exists_method_of_a_caching_pickles(fs: FileSystemStorage) -> None:
    fs.save("a.txt", ContentFile(b"a"))
    cached = Caching(fs)
    assert pickle.loads(pickle.dumps(cached.exists))("a.txt") is True
    assert copy.deepcopy(cached.exists)("a.txt") is True
    stack = Fallback(fs)
    assert pickle.loads(pickle.dumps(stack.exists))("a.txt") is True
