"""Request budgets: a block of code sends at most (or exactly) so many
storage requests, or the test fails with the list of those it sent.

A budget records the block in detail (``storage_mixins.observability``). Inside
a block that already records (another budget, the middleware, the pytest
fixture), it counts the requests that recording got while the block ran.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction
from django.core.files.storage import Storage, storages
from django.utils.functional import LazyObject, empty

from ..core.labels import storage_label
from ..core.resolve import alias_of
from ..core.stack import contains
from ..observability.backend_requests import BackendRequest
from ..observability.recording import Recording, record

__all__ = ["StorageRequestBudget", "assert_max_storage_requests", "assert_storage_requests"]

F = TypeVar("F", bound=Callable[..., Any])


class StorageRequestBudget:
    """At most (``exact=False``) or exactly ``count`` storage requests in a block.

    A context manager, which gives itself: after the block, :attr:`requests`
    are the requests it counted and :attr:`recording` the recording they are
    part of. A decorator too, each call of the function a block of its own
    (coroutine functions included). The filters keep the requests that match
    them all:

    * ``method``: the HTTP method (``"HEAD"``) or the SDK's operation
      (``"GetObject"``), in any case;
    * ``storage``: a ``STORAGES`` alias or a storage, which sent the request
      itself or has the storage that did among its layers;
    * ``prefix``: the start of the key (a listing's prefix);
    * ``kind``: the kind of backend, ``"S3"``, ``"Azure"``, ``"GCS"``, ``"HTTP"``.

    An exception raised in the block is let through, and the budget is not
    checked. A failure raises ``failure`` (``AssertionError``).
    """

    def __init__(
        self,
        count: int,
        *,
        exact: bool,
        method: str | None = None,
        storage: str | Storage | None = None,
        prefix: str | None = None,
        kind: str | None = None,
        failure: type[BaseException] = AssertionError,
    ) -> None:
        self.count = count
        self.exact = exact
        self.method = method
        self.storage = storage
        self.prefix = prefix
        self.kind = kind
        self.failure = failure
        #: The recording the block's requests are part of (once it began).
        self.recording: Recording | None = None
        #: The requests the block sent that the filters keep (once it ended).
        self.requests: list[BackendRequest] = []
        self._recorder: record | None = None
        self._within: Storage | None = None
        self._start = 0

    def __enter__(self) -> StorageRequestBudget:
        if self._recorder is not None:
            raise RuntimeError("this budget's block is running: give each block a budget")
        self._within = _storage(self.storage)
        recorder = record(detail=True)
        self.recording = recorder.__enter__()
        self._recorder = recorder
        self._start = len(self.recording.backend_requests)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        recorder, self._recorder = self._recorder, None
        assert recorder is not None and self.recording is not None  # entered
        sent = self.recording.backend_requests[self._start :]
        recorder.__exit__(exc_type, exc, traceback)
        self.requests = [request for request in sent if self.matches(request)]
        if exc_type is None and not self.holds():
            raise self.failure(self.message())

    def __call__(self, function: F) -> F:
        """Decorate ``function``: each call is a block under a budget of these terms."""
        if iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self.renewed():
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]  # wraps() keeps the signature

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.renewed():
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]  # wraps() keeps the signature

    def renewed(self) -> StorageRequestBudget:
        """A budget of the same terms, for another block."""
        return StorageRequestBudget(
            self.count,
            exact=self.exact,
            method=self.method,
            storage=self.storage,
            prefix=self.prefix,
            kind=self.kind,
            failure=self.failure,
        )

    def matches(self, request: BackendRequest) -> bool:
        """Whether ``request`` passes every filter."""
        if self.kind is not None and request.kind.lower() != self.kind.lower():
            return False
        if self.method is not None and self.method.lower() not in (
            request.method.lower(),
            request.operation.lower(),
        ):
            return False
        if self.prefix is not None and not request.target.startswith(self.prefix):
            return False
        return self._within is None or _sent_within(request, self._within)

    def holds(self) -> bool:
        """Whether the requests counted keep to the budget."""
        got = len(self.requests)
        return got == self.count if self.exact else got <= self.count

    def message(self) -> str:
        """``expected at most 2 storage requests, got 5:`` and the list of them."""
        expected = self._what() if self.exact else f"at most {self._what()}"
        lines = [f"expected {expected}, got {len(self.requests)}"]
        if self.requests:
            lines[0] += ":"
            lines += [f"{n}. {request.describe()}" for n, request in enumerate(self.requests, 1)]
        return "\n".join(lines)

    def _what(self) -> str:
        noun = "storage request" if self.count == 1 else "storage requests"
        words = [str(self.count), self.kind, self.method and self.method.upper(), noun]
        if self.storage is not None:
            words.append(f"to {_storage_name(self.storage)}")
        if self.prefix is not None:
            words.append(f"for keys under {self.prefix!r}")
        return " ".join(word for word in words if word)


def assert_storage_requests(
    count: int,
    *,
    method: str | None = None,
    storage: str | Storage | None = None,
    prefix: str | None = None,
    kind: str | None = None,
) -> StorageRequestBudget:
    """Exactly ``count`` storage requests in the block (or each call of the
    decorated function); the filters are :class:`StorageRequestBudget`'s."""
    return StorageRequestBudget(
        count, exact=True, method=method, storage=storage, prefix=prefix, kind=kind
    )


def assert_max_storage_requests(
    count: int,
    *,
    method: str | None = None,
    storage: str | Storage | None = None,
    prefix: str | None = None,
    kind: str | None = None,
) -> StorageRequestBudget:
    """At most ``count`` storage requests in the block (or each call of the
    decorated function); the filters are :class:`StorageRequestBudget`'s."""
    return StorageRequestBudget(
        count, exact=False, method=method, storage=storage, prefix=prefix, kind=kind
    )


def _storage(storage: str | Storage | None) -> Storage | None:
    """The storage a filter names: an alias's instance, Django's built one."""
    if isinstance(storage, str):
        return storages[storage]
    if isinstance(storage, LazyObject):  # default_storage
        if storage._wrapped is empty:
            storage._setup()
        return storage._wrapped
    return storage


def _storage_name(storage: str | Storage) -> str:
    if isinstance(storage, str):
        return storage
    return alias_of(storage) or storage_label(storage)


def _sent_within(request: BackendRequest, within: Storage) -> bool:
    """Whether the storage that sent ``request`` is ``within`` or one of its
    layers (the call's storage, when the sender is not known)."""
    sender = request.storage
    if sender is None and request.call is not None:
        sender = request.call.storage
    return sender is not None and contains(within, lambda node: node is sender)
