"""Views that use storage, for the middleware and panel tests (tests/testapp/urls.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.files.storage import storages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

NAMES = ["photos/a.jpg", "photos/b.jpg", "photos/missing.jpg"]


def _render() -> str:
    media = storages["default"]
    items = []
    for name in NAMES:
        if media.exists(name):
            items.append(f'<li><img src="{media.url(name)}"> {media.size(name)} bytes</li>')
    return f"<html><body><ul>{''.join(items)}</ul></body></html>"


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_render())


async def async_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(await sync_to_async(_render)())


def read_files(request: HttpRequest) -> HttpResponse:
    """Reads every file that exists (over S3 with Caching: a listing, then GETs)."""
    return HttpResponse(f"<html><body>{read_everything()} bytes</body></html>")


def read_everything() -> int:
    media = storages["default"]
    read = 0
    for name in NAMES:
        if media.exists(name):
            with media.open(name) as handle:
                read += len(handle.read())
    return read


def stream(request: HttpRequest) -> StreamingHttpResponse:
    media = storages["default"]
    media.exists(NAMES[0])  # before the response: counted in the header too

    def chunks() -> Iterator[bytes]:
        for name in NAMES[:2]:
            with media.open(name) as handle:
                yield handle.read()

    return StreamingHttpResponse(chunks())


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    media = storages["default"]
    await sync_to_async(media.exists)(NAMES[0])

    async def chunks() -> AsyncIterator[bytes]:
        for name in NAMES[:2]:
            yield str(await sync_to_async(media.size)(name)).encode()

    return StreamingHttpResponse(chunks())
