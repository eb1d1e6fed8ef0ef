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
  streamed reads share (``backends.s3.client.s3_client``) is made by
  whichever thread needs it first, recording or not: it counts all the same.
  The handler counts a request for the recording of the context that sends
  it, so another thread's requests on a shared client count for no
  recording. The clients of every botocore session made once something has
  recorded count as well (a storage that sends requests as it is built,
  ``S3ManifestStaticStorage``). boto3's transfer threads (uploads,
  and the download of a file's contents) get the recording through botocore's
  own context, which s3transfer carries into them. Requests made outside a
  call (reading an ``S3File`` that ``open()`` returned) count for the
  recording, not for a call. Azure's and Google Cloud's requests are
  counted where their SDKs send them (``cloud_requests``: a hook on the HTTP
  session their clients share), and the requests a backend reports to
  ``storage_mixins.core.hooks.backend_request`` (the library's own) where it
  reports them (``HTTPStorage``: each request, retries and redirects
  included). For other remote backends, each call a ``Fallback`` layer
  answers counts as one request, an estimate; local storages
  (``FileSystemStorage``, ``InMemoryStorage``) make none, and a placeholder
  layer (``Placeholders``) neither: each call it answered counts as a
  placeholder (``Recording.placeholders``, in the summary).
* **Each request**, with ``detail=True``: its method, key, the storage that
  sent it, the call it was sent in and the line of the caller's code
  (``Recording.backend_requests``: see ``backend_requests``).
* **The layer that answered**, with ``detail=True``: the ``Fallback`` layer
  whose answer was returned (marked ``: a placeholder`` if it made the file
  up), or the wrapper that answered without asking the storage below it (a
  ``Caching`` hit), or else the storage at the bottom.

The recording versions of those methods are installed on the wrapper classes
only while a recording is active somewhere in the process
(``storage_mixins.observability.instrumentation``); with none, the classes
run their own methods, and a stack reads one module attribute when a layer
answers (``storage_mixins.core.hooks``).
Recordings follow the context: threads and tasks that copy it
(``asgiref.sync_to_async``, ``asyncio`` tasks) record into the same one.
"""

from __future__ import annotations

from contextvars import Token
from typing import Any

from .backend_requests import BackendRequest
from .calls import Call, Recording
from .cloud_requests import hook_configured_cloud_storages
from .context import carry, current, uncarry
from .instrumentation import install, uninstall
from .s3_requests import count_s3_requests, hook_configured_storages

__all__ = [
    "BackendRequest",
    "Call",
    "Recording",
    "active",
    "count_s3_requests",
    "installed",
    "record",
]


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
        hook_configured_cloud_storages()
        install()
        self._tokens = (current.set(self.recording), carry(self.recording))
        return self.recording

    def __exit__(self, *exc_info: object) -> None:
        if self._tokens is not None:
            token, carried = self._tokens
            self._tokens = None
            if carried is not None:
                uncarry(carried)
            current.reset(token)
            uninstall()


class active:
    """Make ``recording`` the active one again inside the block: for work done on
    its behalf after its block ended, such as a streaming response's body.
    Use it inside :class:`installed`: it does not install the recording methods."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    def __enter__(self) -> Recording:
        self._tokens = (current.set(self.recording), carry(self.recording))
        return self.recording

    def __exit__(self, *exc_info: object) -> None:
        token, carried = self._tokens
        if carried is not None:
            uncarry(carried)
        current.reset(token)


class installed:
    """Keep the recording methods installed inside the block (see
    ``storage_mixins.observability.instrumentation``)."""

    def __enter__(self) -> None:
        install()

    def __exit__(self, *exc_info: object) -> None:
        uninstall()
