"""Recording the storage calls made while a block of code runs (a request).

::

    with record(detail=True) as recording:
        render_the_page()
    recording.summary()  # "14 calls, 3 S3 requests"

What is recorded, and where:

* **Calls.** Every method of Django's storage API that a storage_mixins
  wrapper defines (the interceptions listed in ``tests/test_api.py``), plus
  ``Fallback.which``, is recorded when it is the outermost call: the one the
  caller made. What it asks of inner layers is part of it, not another call.
  A method a wrapper does not define (``ReadOnly.exists``) is the wrapped
  storage's own and runs without Python code of this library, and a storage
  used without any wrapper is not ours: neither is recorded. Their backend
  requests are still counted.
* **Backend requests.** S3 requests are counted where botocore sends them (a
  ``before-send`` handler on the clients of every ``S3Storage`` in
  ``STORAGES`` and in the stacks called), once per HTTP attempt, retries
  included: what the S3 server receives. The client that listings and
  streamed reads share (``listings.s3_client``) is made by whichever thread
  needs it first, recording or not: it counts from the moment it is made.
  The handler counts a request for the recording of the context that sends
  it, so another thread's requests on a shared client count for no
  recording. boto3's transfer threads (uploads,
  and the download of a file's contents) get the recording through botocore's
  own context, which s3transfer carries into them. Requests made outside a
  call (reading an ``S3File`` that ``open()`` returned) count for the
  recording, not for a call. For other remote backends, each call a
  ``Fallback`` layer answers counts as one request; local storages
  (``FileSystemStorage``, ``InMemoryStorage``) make none.
* **The layer that answered**, with ``detail=True``: the ``Fallback`` layer
  whose answer was returned, or the wrapper that answered without asking the
  storage below it (a ``Caching`` hit), or else the storage at the bottom.

The recording versions of those methods are installed on the wrapper classes
only while a recording is active somewhere in the process, and the methods
that wrappers bind on their instances are taken off meanwhile
(``storage_mixins.bound_methods``); with none, the classes run their own
methods, and ``Fallback`` reads one module attribute when a layer answers.
Recordings follow the context: threads and tasks that copy it
(``asgiref.sync_to_async``, ``asyncio`` tasks) record into the same one.
"""

from __future__ import annotations

import copy
import functools
import logging
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from django.core.files.storage import Storage

from .errors import ReadOnlyError, is_not_found

if TYPE_CHECKING:
    from .base import StorageWrapper
    from .fallback import Fallback

__all__ = [
    "Call",
    "Recording",
    "active",
    "count_s3_requests",
    "current",
    "installed",
    "instrument",
    "note_answer",
    "record",
]

logger = logging.getLogger(__name__)

# None, the active Recording, or, inside an outermost call, that Call.
current: ContextVar[Any] = ContextVar("storage_mixins_recording", default=None)

RECORDED_METHODS = frozenset(
    {name for name, value in vars(Storage).items() if callable(value) and name[:1] != "_"}
    | {"_open", "_save", "which"}
)


def instrument(cls: type) -> None:
    """Record the storage methods ``cls`` defines itself (every wrapper class
    gets this from ``StorageWrapper.__init_subclass__``).

    The recording versions are installed on the classes only while something
    records (:class:`record`, in any thread): the rest of the time the classes
    run their own methods, at no cost.
    """
    for name in sorted(RECORDED_METHODS & set(vars(cls))):
        function = vars(cls)[name]
        if callable(function):
            _instrumented.append((cls, name, function, _recorded(name, function)))
            if active_blocks:
                setattr(cls, name, _instrumented[-1][3])


# (class, name, its method, the recording version)
_instrumented: list[tuple[type, str, Callable[..., Any], Callable[..., Any]]] = []
# How many recording blocks are active, process-wide. Fallback reads it before
# it notes an answer: a module attribute, the cheapest check on its hottest paths.
active_blocks = 0
_installing = threading.Lock()


def _install() -> None:
    global active_blocks
    with _installing:
        active_blocks += 1
        if active_blocks == 1:
            for cls, name, _function, recorded in _instrumented:
                setattr(cls, name, recorded)  # bound methods come off (bound_methods)


def _uninstall() -> None:
    global active_blocks
    with _installing:
        active_blocks -= 1
        if active_blocks == 0:
            for cls, name, function, _recorded_version in _instrumented:
                setattr(cls, name, function)


def is_installed(cls: type, name: str) -> bool:
    """Whether ``cls.name`` is its recording version now (while something records)."""
    return getattr(vars(cls).get(name), "_storage_mixins_recorded", False)


def _recorded(method: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
        state = current.get()
        if state is None:  # another thread's call, while this one records
            return function(self, *args, **kwargs)
        return _call(state, self, method, function, args, kwargs)

    recorded._storage_mixins_recorded = True  # type: ignore[attr-defined]  # a function's own attribute
    return recorded


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
        # (Fallback, layer) of the first layer whose answer came back, if any
        # (the layer is _EVERY_LAYER for a listdir()).
        self.answer: tuple[Fallback, object] | None = None
        # The wrappers the call went through below the outermost (detail only).
        self.entered: list[StorageWrapper] | None = [] if recording.detail else None

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
        from .base import StorageWrapper
        from .labels import storage_label

        if self.answer is not None:
            fallback, layer = self.answer
            if layer is _EVERY_LAYER:
                return "every layer"
            position = next(i for i, each in enumerate(fallback.layers) if each is layer)
            return f"[{position}] {storage_label(layer)}"
        deepest = self.entered[-1] if self.entered else self.storage
        if self.outcome == "refused" or getattr(deepest, "layers", None) is not None:
            return type(deepest).__name__  # it refused, or no layer answered
        child = getattr(deepest, "__wrapped__", None)
        if isinstance(child, StorageWrapper):
            return type(deepest).__name__  # it answered without asking below
        return storage_label(child) if child is not None else storage_label(deepest)


class Recording:
    """The storage calls and backend requests of one block of code (a request)."""

    def __init__(self, *, detail: bool = False) -> None:
        self.detail = detail
        self.calls: list[Call] = []  # kept with ``detail`` only
        self.call_count = 0
        self.seconds = 0.0  # spent in recorded calls
        self.requests: Counter[str] = Counter()  # backend requests by kind ("S3")
        self.storages: dict[int, Storage] = {}  # the outermost storages called (detail)
        self._lock = threading.Lock()

    def backend_request(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

    @property
    def milliseconds(self) -> float:
        return self.seconds * 1000

    def summary(self) -> str:
        """E.g. ``"14 calls, 3 S3 requests"``."""
        parts = [_plural(self.call_count, "call")]
        parts += [
            _plural(count, f"{kind} request") for kind, count in sorted(self.requests.items())
        ]
        return ", ".join(parts)

    def _finish(self, call: Call) -> None:
        if call.answer is not None:
            _count_layer_call(call)
        with self._lock:
            self.call_count += 1
            self.seconds += call.seconds
            if self.detail:
                self.calls.append(call)
                self.storages.setdefault(id(call.storage), call.storage)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


_EVERY_LAYER = object()  # the answer of a listdir(): the union of the layers


def note_answer(fallback: Fallback, layer: object = _EVERY_LAYER) -> None:
    """Tell the call being recorded that ``fallback``'s ``layer`` answered.

    Called by ``Fallback`` only while something is recorded; the first answer
    noted in a call (the innermost) is kept.
    """
    state = current.get()
    if state.__class__ is Call and state.answer is None:
        from .failover import GuardedLayer
        from .listed_reader import ListedReader

        # A reader in front of the layer: a listing's, a circuit breaker's.
        while True:
            if type(layer) is ListedReader:  # type(): a proxy's __class__ is its reader's
                layer = layer.__wrapped__
            elif isinstance(layer, GuardedLayer):
                layer = layer.layer
            else:
                break
        state.answer = (fallback, layer)


def _call(
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
    s3 = _s3_leaves(storage)
    for leaf in s3:
        _hook_s3_storage(leaf)
    token = current.set(call)
    carried = _carry(call) if s3 else None
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
            _uncarry(carried)
        current.reset(token)
        state._finish(call)
    if method == "exists":
        call.outcome = "found" if result else "missing"
    return result


# -- activating a recording ---------------------------------------------------


class record:
    """Record the storage calls made inside the block; yields the :class:`Recording`.

    Inside a block that already records, the same recording is yielded (and
    made detailed if ``detail`` is asked for); the outer block ends it.
    """

    def __init__(self, *, detail: bool = False) -> None:
        self.detail = detail
        self.recording: Recording | None = None
        self._tokens: tuple[Token[Any], Any] | None = None

    def __enter__(self) -> Recording:
        state = current.get()
        if state is not None:
            outer = state if isinstance(state, Recording) else state.recording
            outer.detail = outer.detail or self.detail
            self.recording = outer
            return outer
        self.recording = Recording(detail=self.detail)
        hook_configured_storages()
        _install()
        self._tokens = (current.set(self.recording), _carry(self.recording))
        return self.recording

    def __exit__(self, *exc_info: object) -> None:
        if self._tokens is not None:
            token, carried = self._tokens
            self._tokens = None
            if carried is not None:
                _uncarry(carried)
            current.reset(token)
            _uninstall()


class active:
    """Make ``recording`` the active one again inside the block: for work done on
    its behalf after its block ended, such as a streaming response's body.
    Use it inside :class:`installed`: it does not install the recording methods."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    def __enter__(self) -> Recording:
        self._tokens = (current.set(self.recording), _carry(self.recording))
        return self.recording

    def __exit__(self, *exc_info: object) -> None:
        token, carried = self._tokens
        if carried is not None:
            _uncarry(carried)
        current.reset(token)


class installed:
    """Keep the recording methods installed inside the block (see :func:`instrument`)."""

    def __enter__(self) -> None:
        _install()

    def __exit__(self, *exc_info: object) -> None:
        _uninstall()


# -- counting S3 requests at the source -----------------------------------------

_HANDLER_ID = "storage_mixins-count-requests"
_hooked_emitters: weakref.WeakSet[Any] = weakref.WeakSet()


def _count_s3_request(**kwargs: Any) -> None:
    """botocore ``before-send`` handler: one HTTP attempt to S3."""
    state = current.get()
    if state is None:
        state = _carried_state()  # in one of boto3's transfer threads
        if state is None:
            return
    state.backend_request("S3")


def count_s3_requests(client: Any) -> None:
    """Count the requests ``client`` (a boto3 S3 client) sends for the recording
    active where each is sent, from now on; outside any, they count for none."""
    events = client.meta.events
    if events not in _hooked_emitters:
        events.register("before-send.s3", _count_s3_request, unique_id=_HANDLER_ID)
        _hooked_emitters.add(events)


class _HookedConnections(threading.local):
    """An ``S3Storage``'s per-thread connections, whose clients count requests.

    It replaces the storage's ``threading.local``; in each thread, the
    connection that thread already had is taken over (``__init__`` runs once a
    thread), and a new one is hooked when django-storages creates it.
    """

    def __init__(self, previous: threading.local) -> None:
        connection = getattr(previous, "connection", None)
        if connection is not None:
            self.connection = connection

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "connection" and value is not None:
            count_s3_requests(value.meta.client)
        super().__setattr__(name, value)


def _hook_s3_storage(storage: Any) -> None:
    for attribute in ("_connections", "_unsigned_connections"):
        connections = storage.__dict__.get(attribute)
        if connections is not None and type(connections) is not _HookedConnections:
            setattr(storage, attribute, _HookedConnections(connections))
    bucket = storage.__dict__.get("_bucket")  # shared by threads: made by one of them
    if bucket is not None:
        count_s3_requests(bucket.meta.client)


def _is_s3(storage: Any) -> bool:
    module = sys.modules.get("storages.backends.s3")
    return module is not None and isinstance(storage, module.S3Storage)


def _s3_leaves(storage: Any) -> tuple[Any, ...]:
    """The ``S3Storage`` instances in ``storage``'s stack, remembered on the wrapper."""
    try:
        # Its own attribute only: a proxy would hand over the wrapped storage's.
        leaves: tuple[Any, ...] = object.__getattribute__(storage, "_self_recorded_s3_leaves")
    except AttributeError:
        leaves = tuple(leaf for leaf in _leaves(storage) if _is_s3(leaf))
        storage._self_recorded_s3_leaves = leaves
    return leaves


def _leaves(storage: Any) -> Iterator[Any]:
    from .base import StorageWrapper

    if not isinstance(storage, StorageWrapper):
        yield storage
        return
    for child in getattr(storage, "layers", None) or (storage.__wrapped__,):
        yield from _leaves(child)


def hook_configured_storages() -> None:
    """Count the requests of the S3 storages Django has built from ``STORAGES``,
    wrapped or not (done when a recording starts)."""
    if "storages.backends.s3" not in sys.modules:
        return
    from django.core.files.storage import storages

    for storage in list(getattr(storages, "_storages", {}).values()):
        for leaf in _leaves(storage):
            if _is_s3(leaf):
                _hook_s3_storage(leaf)


def _count_layer_call(call: Call) -> None:
    """Other remote backends: one request per call a layer of theirs answered."""
    from .base import StorageWrapper

    _fallback, layer = call.answer  # type: ignore[misc]  # set: _finish() checked it
    if layer is _EVERY_LAYER:
        return
    while isinstance(layer, StorageWrapper) and getattr(layer, "layers", None) is None:
        layer = layer.__wrapped__
    if isinstance(layer, StorageWrapper) or _is_s3(layer) or _is_local(layer):
        return
    call.backend_request(type(layer).__name__)


def _is_local(storage: Any) -> bool:
    from django.core.files.storage import FileSystemStorage, InMemoryStorage

    return isinstance(storage, FileSystemStorage | InMemoryStorage)


# boto3's transfer threads (s3transfer) do not run in the caller's context, but
# s3transfer hands them botocore's own context variable (botocore.context, which
# botocore copies for every API call). A subclass of its ClientContext carries
# the recording there; without it (older botocore), those requests go uncounted.


def _carrier_type() -> Any:
    # The module as sys.modules has it (Any): botocore may never be imported.
    botocore_context: Any = sys.modules.get("botocore.context")
    if botocore_context is None:
        if "botocore" not in sys.modules:
            return None
        try:
            import botocore.context as botocore_context
        except ImportError:
            return None
    carrier = getattr(botocore_context, "_storage_mixins_carrier", None)
    if carrier is None:

        class Carrier(botocore_context.ClientContext):  # type: ignore[misc]  # looked up: Any
            recording_state: Any = None

            def __deepcopy__(self, memo: dict[int, Any]) -> Any:
                copied = Carrier(features=copy.deepcopy(self.features, memo))
                copied.recording_state = self.recording_state
                return copied

        carrier = botocore_context._storage_mixins_carrier = Carrier
    return botocore_context, carrier


def _carry(state: Any) -> Any:
    found = _carrier_type()
    if found is None:
        return None
    botocore_context, carrier_type = found
    outer = botocore_context.get_context()
    carrier = carrier_type(features=set(outer.features) if outer is not None else set())
    carrier.recording_state = state
    return botocore_context, botocore_context.set_context(carrier)


def _uncarry(carried: Any) -> None:
    botocore_context, token = carried
    botocore_context.reset_context(token)


def _carried_state() -> Any:
    botocore_context = sys.modules.get("botocore.context")
    if botocore_context is None:
        return None
    return getattr(botocore_context.get_context(), "recording_state", None)
