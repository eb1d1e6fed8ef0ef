"""``storage_mixins.proxy.Proxy`` reads attributes as wrapt's own proxy does.

``Proxy`` only changes how CPython dispatches an attribute read (see its
module): each case below is read through it and through a plain subclass of
``wrapt.BaseObjectProxy`` around the same object, and must give the same
answer, or the same error with the same message.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
import wrapt
from django.core.files.storage import InMemoryStorage

import storage_mixins
from storage_mixins.core.proxy import Proxy


class Wrapped:
    """Something to wrap: a class attribute, an instance attribute, a method,
    a property that raises ``AttributeError``, and a docstring."""

    __module__ = "elsewhere"  # as a backend's is not this library's
    kind = "wrapped"

    def __init__(self) -> None:
        self.value = 1

    def method(self) -> str:
        return "method"

    @property
    def broken(self) -> int:
        raise AttributeError("broken inside")


def proxy_classes() -> tuple[type, type]:
    """The same proxy class twice: on ``Proxy``, and on wrapt's own."""

    def body(base: type) -> type:
        class Wrapper(base):  # type: ignore[misc, valid-type]  # a class per base
            """A proxy's own docstring."""

            own = "own"

            def __init__(self, wrapped: Any) -> None:
                super().__init__(wrapped)
                self._self_state = "state"

            def method(self) -> str:
                return "intercepted"

            @property
            def failing(self) -> int:
                raise AttributeError("failing inside")  # then __getattr__ forwards

        return Wrapper

    return body(Proxy), body(wrapt.BaseObjectProxy)


NAMES = [
    "kind", "value", "method", "broken", "missing", "own", "failing", "_self_state",
    "_self_missing", "__class__", "__module__", "__doc__", "__name__", "__qualname__",
    "__dict__", "__wrapped__", "__annotations__", "__weakref__",
]  # fmt: skip


def read(obj: Any, name: str) -> tuple[str, Any]:
    try:
        value = getattr(obj, name)
    except Exception as exc:  # noqa: BLE001 - compared, type and message
        return "raised", (type(exc), str(exc))
    if callable(value) and hasattr(value, "__func__"):
        return "returned", value()
    if isinstance(value, dict):
        return "returned", sorted(value)
    if name == "__weakref__":
        return "returned", value is None
    return "returned", value


@pytest.mark.parametrize("name", NAMES)
def test_every_read_answers_as_wrapts_own_proxy(name: str) -> None:
    fast, plain = proxy_classes()
    wrapped = Wrapped()
    assert read(fast(wrapped), name) == read(plain(wrapped), name)


def test_module_and_docstring_are_the_wrapped_objects() -> None:
    fast, _plain = proxy_classes()
    proxy = fast(Wrapped())
    assert (proxy.__module__, proxy.__doc__) == ("elsewhere", Wrapped.__doc__)
    # The copies are taken when the object is given: a proxy whose object is
    # replaced afterwards (nothing in this library does that) keeps them.
    proxy.__wrapped__ = InMemoryStorage()
    assert (proxy.__module__, proxy.__doc__) == ("elsewhere", Wrapped.__doc__)
    assert plain_module_after_replacing() == InMemoryStorage.__module__


def plain_module_after_replacing() -> str:
    _fast, plain = proxy_classes()
    proxy = plain(Wrapped())
    proxy.__wrapped__ = InMemoryStorage()
    module: str = proxy.__module__
    return module


def test_writes_and_deletes_go_where_wrapts_do() -> None:
    fast, plain = proxy_classes()
    for cls in (fast, plain):
        wrapped = Wrapped()
        proxy = cls(wrapped)
        proxy.value = 2
        proxy._self_state = "changed"
        proxy.added = 3
        assert (wrapped.value, wrapped.added, proxy._self_state) == (2, 3, "changed")
        assert not hasattr(wrapped, "_self_state")
        del proxy.added
        assert not hasattr(wrapped, "added")
        assert isinstance(proxy, Wrapped)
        assert dir(proxy) == dir(wrapped)


def test_an_uninitialised_proxy_says_so() -> None:
    fast, plain = proxy_classes()
    assert read(fast.__new__(fast), "value") == read(plain.__new__(plain), "value")
    assert "__wrapped__" in read(fast.__new__(fast), "value")[1][1]


def test_a_subclass_with_its_own_getattr_is_asked_last() -> None:
    class Fallible(Proxy):
        def __getattr__(self, name: str) -> Any:
            if name == "virtual":
                return "from __getattr__"
            return super().__getattr__(name)

    proxy = Fallible(Wrapped())
    assert (proxy.virtual, proxy.value, proxy.kind) == ("from __getattr__", 1, "wrapped")
    with pytest.raises(AttributeError, match="missing"):
        proxy.missing  # noqa: B018 - the read is the test


def test_every_proxy_in_the_library_is_built_on_proxy() -> None:
    for module in pkgutil.iter_modules(storage_mixins.__path__):
        importlib.import_module(f"storage_mixins.{module.name}")
    found = set()
    pending = [wrapt.BaseObjectProxy]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.startswith("storage_mixins."):
                found.add(subclass)
    assert len(found) >= 8  # the wrappers, readers, views and file proxies
    assert [cls for cls in found if not issubclass(cls, Proxy)] == []
