"""The storage calls of a recording: one :class:`Call` per outermost call,
its backend requests and the layer that answered, gathered in a
:class:`Recording` (with ``detail``, each request too: a
:class:`~storage_mixins.observability.backend_requests.BackendRequest`).

What counts as a call, a backend request and the layer that answered is
described in ``storage_mixins.observability.recording``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage

from ..backends.errors import is_not_found
from ..backends.http import is_http
from ..backends.s3.client import is_s3
from ..core.errors import ReadOnlyError
from ..core.labels import storage_label
from ..core.stack import backend_of, children, invents_files, is_router, is_wrapper, leaves
from .backend_requests import BackendRequest, Caller, find_caller, thread_caller
from .cloud_requests import hook_cloud_storage, is_counted
from .context import carry, current, current_state, uncarry
from .s3_requests import hook_s3_storage

__all__ = ["Call", "Recording", "count_request", "note_answer", "recorded_call"]


class Call:
    """One outermost storage call: what was called, how it went, what it cost."""

    __slots__ = (
        "answer",
        "args",
        "caller",
        "entered",
        "error",
        "method",
        "outcome",
        "recording",
        "requests",
        "seconds",
        "storage",
    )

    def __init__(
        self, recording: Recording, storage: Storage, method: str, args: tuple[Any, ...]
    ) -> None:
        self.recording = recording
        self.storage = storage
        self.method = method
        self.args = args
        self.seconds = 0.0
        self.outcome = "ok"
        self.error: str | None = None
        self.requests: Counter[str] = Counter()
        # (stack, layer) of the first layer whose answer came back, if any
        # (the layer is None for a listdir(): every layer's).
        self.answer: tuple[Any, Storage | None] | None = None
        # The wrappers the call went through below the outermost (detail only).
        self.entered: list[Storage] | None = [] if recording.detail else None
        # The line of the caller's code that made the call (detail only).
        self.caller: Caller | None = find_caller(sys._getframe()) if recording.detail else None

    @property
    def name(self) -> object:
        """The file or directory name the call was about (``None`` if none)."""
        return self.args[0] if self.args else None

    def backend_request(
        self,
        kind: str,
        method: str = "",
        target: str = "",
        storage: Any = None,
        operation: str = "",
    ) -> None:
        """Count a request sent during the call (see :meth:`Recording.count`)."""
        self.recording.count(kind, self, method, target, storage, operation)

    def answered_by(self) -> str:
        """Which part of the stack answered, as a label (see the module docstring)."""
        if self.answer is not None:
            stack, layer = self.answer
            if layer is None:
                return "every layer"
            position = next(i for i, each in enumerate(stack.layers) if each is layer)
            made_up = ": a placeholder" if invents_files(layer) else ""
            return f"[{position}] {storage_label(layer)}{made_up}"
        deepest = self.entered[-1] if self.entered else self.storage
        if self.outcome == "refused" or is_router(deepest):
            return type(deepest).__name__  # it refused, or no layer answered
        below = children(deepest)
        if below and is_wrapper(below[0]):
            return type(deepest).__name__  # it answered without asking below
        return storage_label(below[0] if below else deepest)


class Recording:
    """The storage calls and backend requests of one block of code (a request)."""

    def __init__(self, *, detail: bool = False) -> None:
        self.detail = detail
        self.calls: list[Call] = []  # kept with ``detail`` only
        self.call_count = 0
        self.seconds = 0.0  # spent in recorded calls
        self.requests: Counter[str] = Counter()  # backend requests by kind ("S3")
        self.placeholders = 0  # calls a layer that makes up files answered
        self.storages: dict[int, Storage] = {}  # the outermost storages called (detail)
        # Each backend request, in the order they were sent (detail).
        self.backend_requests: list[BackendRequest] = []
        self.thread_id = threading.get_ident()  # the thread that opened it
        self._lock = threading.Lock()

    def backend_request(
        self,
        kind: str,
        method: str = "",
        target: str = "",
        storage: Any = None,
        operation: str = "",
    ) -> None:
        """Count a request sent outside any call (see :meth:`count`)."""
        self.count(kind, None, method, target, storage, operation)

    def count(
        self,
        kind: str,
        call: Call | None,
        method: str,
        target: str,
        storage: Any,
        operation: str,
    ) -> None:
        """Count one request to a backend of ``kind``, for ``call`` if it was sent
        during one; with ``detail``, keep it (:attr:`backend_requests`)."""
        request = None
        if self.detail:
            request = BackendRequest(
                kind,
                method,
                target,
                storage=storage,
                operation=operation,
                call=call,
                caller=self._caller(call),
            )
        with self._lock:
            self.requests[kind] += 1
            if call is not None:
                call.requests[kind] += 1
            if request is not None:
                self.backend_requests.append(request)

    def _caller(self, call: Call | None) -> Caller | None:
        """The line of the caller's code behind a request sent here, now."""
        if call is not None and call.caller is not None:
            return call.caller
        return find_caller(sys._getframe()) or thread_caller(self.thread_id)

    @property
    def milliseconds(self) -> float:
        return self.seconds * 1000

    def summary(self) -> str:
        """E.g. ``"14 calls, 3 S3 requests"`` (``", 2 placeholders"`` where
        placeholders answered)."""
        parts = [_plural(self.call_count, "call")]
        parts += [
            _plural(count, f"{kind} request") for kind, count in sorted(self.requests.items())
        ]
        if self.placeholders:
            parts.append(_plural(self.placeholders, "placeholder"))
        return ", ".join(parts)

    def _finish(self, call: Call) -> None:
        made_up = False
        if call.answer is not None:
            _count_layer_call(call)
            layer = call.answer[1]
            made_up = layer is not None and invents_files(layer)
        with self._lock:
            self.placeholders += made_up
            self.call_count += 1
            self.seconds += call.seconds
            if self.detail:
                self.calls.append(call)
                self.storages.setdefault(id(call.storage), call.storage)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def count_request(kind: str, method: str, target: str, storage: Any = None) -> None:
    """Count a backend's request for the recording (and call) active where it
    is sent: ``hooks.request_observer`` while something records."""
    state = current_state()
    if state is not None:
        state.backend_request(kind, method, target, storage)


def note_answer(stack: Any, layer: Storage | None) -> None:
    """Tell the call being recorded that ``stack``'s ``layer`` answered (``None``:
    every layer did): ``hooks.answer_observer`` while something records. The
    first answer noted in a call (the innermost) is kept."""
    state = current.get()
    if state.__class__ is Call and state.answer is None:
        state.answer = (stack, layer)


def recorded_call(
    state: Any,
    storage: Any,
    method: str,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    if state.__class__ is Call:  # inside a call: part of it
        if state.entered is not None:
            state.entered.append(storage)
        return function(storage, *args, **kwargs)
    call = Call(state, storage, method, args)
    s3_leaves = False
    for leaf in leaves(storage):
        if is_s3(leaf):
            hook_s3_storage(leaf)
            s3_leaves = True
        else:
            hook_cloud_storage(leaf)
    token = current.set(call)
    carried = carry(call) if s3_leaves else None
    started = time.perf_counter()
    try:
        result = function(storage, *args, **kwargs)
    except BaseException as exc:
        call.outcome = (
            "missing"
            if is_not_found(exc)
            else "refused"
            if isinstance(exc, ReadOnlyError)
            else "error"
        )
        call.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        call.seconds = time.perf_counter() - started
        if carried is not None:
            uncarry(carried)
        current.reset(token)
        state._finish(call)
    if method == "exists":
        call.outcome = "found" if result else "missing"
    return result


def _count_layer_call(call: Call) -> None:
    """Remote backends whose requests are not counted where they are sent: one
    request per call a layer of theirs answered (an estimate)."""
    _stack, layer = call.answer  # type: ignore[misc]  # set: _finish() checked it
    if layer is None:
        return
    backend = backend_of(layer)
    if (
        is_wrapper(backend)
        or is_s3(backend)
        or is_http(backend)
        or is_counted(backend)
        or isinstance(backend, _LOCAL)
    ):
        return  # a nested stack counts its own; S3, HTTP, Azure, GCS: at the source
    if invents_files(backend):
        return  # a placeholder: counted as such, it sends no request
    name = call.name if isinstance(call.name, str) else ""
    call.backend_request(type(backend).__name__, call.method, name, backend, "estimate")


_LOCAL = (FileSystemStorage, InMemoryStorage)  # they make no requests
