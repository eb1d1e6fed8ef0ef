"""The storage calls of a recording: one :class:`Call` per outermost call,
its backend requests and the layer that answered, gathered in a
:class:`Recording`.

What counts as a call, a backend request and the layer that answered is
described in ``storage_mixins.observability.recording``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage

from ..backends.errors import is_not_found
from ..backends.s3.client import is_s3
from ..core.errors import ReadOnlyError
from ..core.labels import storage_label
from ..core.stack import backend_of, children, invents_files, is_router, is_wrapper, leaves
from .context import carry, current, current_state, uncarry
from .s3_requests import hook_s3_storage

__all__ = ["Call", "Recording", "count_request", "note_answer", "recorded_call"]


class Call:
    """One outermost storage call: what was called, how it went, what it cost."""

    __slots__ = (
        "answer",
        "args",
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

    @property
    def name(self) -> object:
        """The file or directory name the call was about (``None`` if none)."""
        return self.args[0] if self.args else None

    def backend_request(self, kind: str) -> None:
        with self.recording._lock:
            self.requests[kind] += 1
            self.recording.requests[kind] += 1

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
        self._lock = threading.Lock()

    def backend_request(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

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


def count_request(kind: str, method: str, target: str) -> None:
    """Count a backend's request for the recording (and call) active where it
    is sent: ``hooks.request_observer`` while something records."""
    state = current_state()
    if state is not None:
        state.backend_request(kind)


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
    s3_leaves = [leaf for leaf in leaves(storage) if is_s3(leaf)]
    for leaf in s3_leaves:
        hook_s3_storage(leaf)
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
    """Other remote backends: one request per call a layer of theirs answered."""
    _stack, layer = call.answer  # type: ignore[misc]  # set: _finish() checked it
    if layer is None:
        return
    backend = backend_of(layer)
    if is_wrapper(backend) or is_s3(backend) or isinstance(backend, _LOCAL):
        return  # a nested stack counts its own; S3 is counted at the source
    if invents_files(backend):
        return  # a placeholder: counted as such, it sends no request
    call.backend_request(type(backend).__name__)


_LOCAL = (FileSystemStorage, InMemoryStorage)  # they make no requests
