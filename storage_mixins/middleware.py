"""``StorageTimingMiddleware``: what a request cost in storage.

Add it to ``MIDDLEWARE``, first (outermost), so that it sees the storage
calls of every other middleware and its header entry is not overwritten::

    MIDDLEWARE = ["storage_mixins.middleware.StorageTimingMiddleware", ...]

Every response then carries a ``Server-Timing`` entry that browsers show in
their developer tools (Network → Timing)::

    Server-Timing: storage;dur=12.3;desc="14 calls, 3 S3 requests"

``dur`` is the time spent in storage calls, in milliseconds; ``desc`` counts
them and the backend requests they made. One line per request is logged at
``DEBUG`` on the ``storage_mixins.middleware`` logger::

    GET /gallery/: 14 storage calls in 12.3 ms, 3 S3 requests

It works under WSGI and ASGI, with sync and async views. A streaming
response's header counts what was done before its body is sent (headers go
first); the log line, written when the body is finished, counts it all. What
is recorded is described in :mod:`storage_mixins.observability.recording`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest

from .observability.recording import Recording, active, installed, record

__all__ = ["StorageTimingMiddleware", "server_timing"]

logger = logging.getLogger(__name__)


class StorageTimingMiddleware:
    """Record the storage calls of each request; report them in ``Server-Timing``
    and in one ``DEBUG`` log line."""

    sync_capable = True
    async_capable = True

    # The response is Any: an HttpResponse, a streaming one (told apart by
    # .streaming, as Django does), or, in async mode, an awaitable of either.
    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        with record() as recording:
            response = self.get_response(request)
        return self._report(request, response, recording)

    async def __acall__(self, request: HttpRequest) -> Any:
        with record() as recording:
            response = await self.get_response(request)
        return self._report(request, response, recording)

    def _report(self, request: HttpRequest, response: Any, recording: Recording) -> Any:
        _add_server_timing(response, recording)
        if not getattr(response, "streaming", False):
            _log_summary(request, recording)
        elif response.is_async:
            response.streaming_content = _recorded_async(
                response.streaming_content, recording, request
            )
        else:
            response.streaming_content = _recorded(response.streaming_content, recording, request)
        return response


def server_timing(recording: Recording) -> str:
    """The ``Server-Timing`` entry for ``recording``."""
    description = recording.summary().replace("\\", "\\\\").replace('"', '\\"')
    return f'storage;dur={recording.milliseconds:.1f};desc="{description}"'


def _add_server_timing(response: Any, recording: Recording) -> None:
    entry = server_timing(recording)
    existing = response.headers.get("Server-Timing")
    response.headers["Server-Timing"] = f"{existing}, {entry}" if existing else entry


def _log_summary(request: HttpRequest, recording: Recording) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return
    requests = recording.summary().partition(", ")[2]
    logger.debug(
        "%s %s: %s in %.1f ms%s",
        request.method,
        request.get_full_path(),
        f"{recording.call_count} storage call" + ("" if recording.call_count == 1 else "s"),
        recording.milliseconds,
        f", {requests}" if requests else "",
        extra={
            "storage_calls": recording.call_count,
            "duration_ms": recording.milliseconds,
            "backend_requests": dict(recording.requests),
        },
    )


def _recorded(chunks: Iterator[Any], recording: Recording, request: HttpRequest) -> Iterator[Any]:
    """A streaming body, produced with ``recording`` active; logged once finished."""
    iterator = iter(chunks)
    try:
        with installed():
            while True:
                with active(recording):
                    chunk = next(iterator, _END)
                if chunk is _END:
                    return
                yield chunk
    finally:
        _log_summary(request, recording)


async def _recorded_async(
    chunks: AsyncIterator[Any], recording: Recording, request: HttpRequest
) -> AsyncIterator[Any]:
    iterator = aiter(chunks)
    try:
        with installed():
            while True:
                with active(recording):
                    chunk = await anext(iterator, _END)
                if chunk is _END:
                    return
                yield chunk
    finally:
        _log_summary(request, recording)


_END = object()
