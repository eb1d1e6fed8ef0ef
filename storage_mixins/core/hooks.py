"""Hook points: where code above the wrappers hears what they do, without the
wrappers knowing who listens.

The wrappers report, and never import whoever listens (recording, the cache
namespaces), as Django's models send signals that any app may receive:

* :func:`layer_answered`: a layer of a stack gave the answer a call returns;
  :data:`answer_observer` hears it while something records
  (``storage_mixins.observability``), and nobody otherwise.
* :func:`backend_request`: a backend sent a request (a storage of this
  library's own, or one whose SDK it hooks); :data:`request_observer` hears
  it while something records. (S3's requests are heard where botocore sends
  them, by ``storage_mixins.observability.s3_requests``.)
* :func:`wrapper_class_defined`: a wrapper class was defined;
  :data:`class_observer` hears it while something records.
* :data:`storage_attribute_set`: a Django signal, sent with ``name`` when an
  attribute is set on a storage through a wrapper (``cached.location = ...``):
  what names a store may have changed (the cache namespaces listen).
* :data:`probing`: set while a stack tries its layers in turn, where a
  layer's miss is routine (``Logging`` logs it quietly).
* :func:`watching_skips`: the layers that reads inside a block skipped because
  they were down (``Fallback(..., on_error="skip")``), and the placeholders
  that stood in for missing files (:func:`note_stand_in`), for callers that
  must not remember such answers (``Caching``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from django.dispatch import Signal

__all__ = [
    "answer_observer",
    "backend_request",
    "class_observer",
    "is_probing",
    "layer_answered",
    "note_skipped",
    "note_stand_in",
    "probing",
    "request_observer",
    "storage_attribute_set",
    "watching_skips",
    "wrapper_class_defined",
]

#: Called with ``(stack, layer)`` when ``layer`` of ``stack`` answered a call
#: (``layer`` is ``None`` when every layer did);
#: set by ``storage_mixins.observability`` while something records.
answer_observer: Callable[[Any, Any], None] | None = None


def layer_answered(stack: Any, layer: Any = None) -> None:
    """Tell :data:`answer_observer`, if any, that ``layer`` of ``stack`` answered
    (``None``: every layer did, as for a ``listdir()``)."""
    observer = answer_observer
    if observer is not None:
        observer(stack, layer)


#: Called with ``(kind, method, target, storage)`` for each request a backend
#: sends (``"HTTP"``, ``"GET"``, the file's name, the storage that sent it);
#: set by ``storage_mixins.observability`` while something records.
request_observer: Callable[[str, str, str, Any], None] | None = None


def backend_request(kind: str, method: str, target: str, storage: Any = None) -> None:
    """Tell :data:`request_observer`, if any, that ``storage`` (a backend of
    ``kind``) sent a ``method`` request for ``target`` (once per attempt,
    retries included). ``target`` is the name (key) of the file the request is
    about, or the directory a listing lists, or else the URL's path; a test's
    budget filters on it (``storage_mixins.testing``)."""
    observer = request_observer
    if observer is not None:
        observer(kind, method, target, storage)


#: Called with each wrapper class defined from now on; set by
#: ``storage_mixins.observability`` while something records.
class_observer: Callable[[type], None] | None = None


def wrapper_class_defined(cls: type) -> None:
    """Tell :data:`class_observer`, if any, that the wrapper class ``cls`` was defined."""
    observer = class_observer
    if observer is not None:
        observer(cls)


#: Sent with ``name`` (and ``sender``, the wrapper's class) when an attribute
#: is set on a storage through a wrapper.
storage_attribute_set = Signal()

#: Set (to ``True``) while a stack tries its layers in turn.
probing: ContextVar[bool] = ContextVar("storage_mixins_probing", default=False)


def is_probing() -> bool:
    """Whether the current call is a stack trying its layers in turn."""
    return probing.get()


# The labels of the layers skipped during the current call, while someone
# watches: an answer given without a layer must not outlive the outage.
_skipped: ContextVar[list[str] | None] = ContextVar("storage_mixins_skipped", default=None)


@contextlib.contextmanager
def watching_skips() -> Iterator[list[str]]:
    """Collect the layers that reads inside the block skipped because they were down."""
    skipped: list[str] = []
    token = _skipped.set(skipped)
    try:
        yield skipped
    finally:
        _skipped.reset(token)
        outer = _skipped.get()
        if outer is not None:
            outer.extend(skipped)  # a watcher further out must know too


def note_skipped(label: str) -> None:
    """Tell whoever watches (:func:`watching_skips`) that a read skipped ``label``."""
    skipped = _skipped.get()
    if skipped is not None:
        skipped.append(label)


def note_stand_in(label: str) -> None:
    """Tell whoever watches (:func:`watching_skips`) that ``label``, a layer that
    makes up files (``Placeholders``), answered for a file no layer has: an
    answer no cache may keep, as a real file may come at any moment."""
    note_skipped(label)
